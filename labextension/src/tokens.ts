/**
 * The ISidecar token: what the main plugin shares with the feature plugins
 * (server info, one event subscription as typed signals, one request client).
 */

import { Token } from '@lumino/coreutils';
import type { ISignal } from '@lumino/signaling';

import type { IDataflow, IPlan, IPlanRequest } from './dataflow/types';
import type { ILintedCell, ILintRequest } from './lint/types';
import type { IQueueInterrupt, IQueueState } from './queue/types';
import type {
  CellStatus,
  IKernelSummary,
  IInputRequest,
  IShadowCell,
  IShadowNotebook
} from './restore/types';
import type {
  ChildKey,
  IChildrenPage,
  IRowsPage,
  IRowsQuery,
  IVariablesSnapshot,
  IVariableView
} from './variables/types';

/**
 * Features the server extension may list in `GET api/sidecar`.
 */
export type SidecarFeature =
  | 'record'
  | 'notebook'
  | 'events'
  | 'persist'
  | 'execute'
  | 'queue'
  | 'variables'
  | 'lint'
  /**
   * `POST api/sidecar/lint` with `check: true`: ruff's diagnostics per cell.
   */
  | 'check'
  /**
   * Which recorded cells are stale, plans of what to run (`.../dataflow`,
   * `.../plan`).
   */
  | 'dataflow'
  /**
   * The server writes cells whose page is gone into shared (real-time
   * collaboration) notebook documents.
   */
  | 'shared_documents';

/**
 * Reply of `GET api/sidecar`.
 */
export interface IServerInfo {
  /**
   * Version of the Python package `jupyter_sidecar_ext`.
   */
  version: string;
  /**
   * Features the server extension offers (see {@link SidecarFeature}).
   */
  features: string[];
}

/**
 * Data of a `cell_changed` event of the server's event bus.
 */
export interface ICellChangedEvent {
  kernel_id: string;
  cell_id: string;
  msg_id: string;
  status: CellStatus;
  execution_count: number | null;
  seq: number;
  /**
   * The input the run waits for (null: none; absent on older servers).
   */
  input_request?: IInputRequest | null;
  /**
   * How many names the cell used were redefined since it ran (dataflow; absent
   * when the server has no dataflow).
   */
  stale_inputs?: number;
}

/**
 * Data of an `execution_finished` event of the server's event bus: one per
 * run that ended (ids, status, times; never code or outputs).
 */
export interface IExecutionFinishedEvent {
  kernel_id: string;
  cell_id: string;
  msg_id: string;
  status: 'ok' | 'error' | 'aborted';
  execution_count: number | null;
  /**
   * Exception name of a failed run, else null.
   */
  ename: string | null;
  /**
   * Seconds from start to end (null: it never ran).
   */
  duration: number | null;
  /**
   * No page of the kernel was connected when it ended.
   */
  unwatched: boolean;
}

/**
 * Data of a `variables_updated` event of the server's event bus.
 */
export interface IVariablesUpdatedEvent {
  kernel_id: string;
  state: IVariablesSnapshot['state'];
  execution_count: number | null;
  /**
   * Variables that passed the server's filter (null: the server did not say).
   */
  count: number | null;
  /**
   * Whether the snapshot is behind the kernel (null: the server did not say).
   */
  stale: boolean | null;
  /**
   * The version of the snapshot's rows (null: none, or an older server):
   * a page holding this version's rows needs not read them again.
   */
  rows_version: string | null;
}

/**
 * The one client of the server extension's REST API (`{base}api/sidecar`).
 *
 * Reads of a kernel's record answer null when the server has none (404).
 * Other failures throw `ServerConnection.ResponseError` (its message is the
 * server's `message`) or `ServerConnection.NetworkError`.
 */
export interface ISidecarRequests {
  info(): Promise<IServerInfo>;
  notebook(kernelId: string): Promise<IShadowNotebook | null>;
  cell(kernelId: string, cellId: string): Promise<IShadowCell | null>;
  /**
   * Kernels that recorded cells for a notebook path (newest first when the
   * server sorts them).
   */
  kernelsForPath(path: string): Promise<IKernelSummary[]>;
  variables(kernelId: string): Promise<IVariablesSnapshot>;
  variable(kernelId: string, name: string): Promise<IVariableView>;
  /**
   * One page of the children of a variable's item at `path` (keys from the
   * variable down; empty for the variable itself).
   */
  children(
    kernelId: string,
    name: string,
    path: ChildKey[],
    offset: number,
    limit: number
  ): Promise<IChildrenPage>;
  /**
   * One page of rows of a DataFrame, Series or 2-D array, sorted server-side.
   */
  rows(kernelId: string, name: string, query: IRowsQuery): Promise<IRowsPage>;
  /**
   * Format cells; errors of single cells are in their `error` field.
   */
  lint(request: ILintRequest): Promise<ILintedCell[]>;
  queue(kernelId: string): Promise<IQueueState>;
  removeFromQueue(kernelId: string, msgId: string): Promise<void>;
  /**
   * Answer the input a run of the kernel waits for (`POST .../input`).
   */
  answerInput(kernelId: string, value: string): Promise<void>;
  /**
   * Interrupt the kernel; with `keepQueue` the cells waiting in the server's
   * queue run after the interrupted one instead of being aborted.
   */
  interruptQueue(
    kernelId: string,
    keepQueue: boolean
  ): Promise<IQueueInterrupt>;
  /**
   * The kernel's dataflow: stale cells and why, hidden state, edges (null
   * when the server has no record of the kernel, or no dataflow).
   */
  dataflow(kernelId: string): Promise<IDataflow | null>;
  /**
   * The cells to run for a cell's inputs or dependents, in order.
   */
  plan(kernelId: string, request: IPlanRequest): Promise<IPlan>;
}

/**
 * The server extension as the labextension sees it.
 */
export interface ISidecar {
  /**
   * Settles once the server extension answered `GET api/sidecar`, or did not
   * (then no feature is listed). Never rejects.
   */
  readonly ready: Promise<void>;
  /**
   * Version of the server extension (null until ready, or if it did not answer).
   */
  readonly version: string | null;
  /**
   * Features the server extension offers (empty until ready).
   */
  readonly features: readonly string[];
  /**
   * Whether the server extension offers a feature (false until ready).
   */
  hasFeature(name: SidecarFeature): boolean;
  /**
   * A recorded cell changed (server event bus).
   */
  readonly cellChanged: ISignal<ISidecar, ICellChangedEvent>;
  /**
   * A run ended (server event bus).
   */
  readonly executionFinished: ISignal<ISidecar, IExecutionFinishedEvent>;
  /**
   * A kernel's variable snapshot changed (server event bus).
   */
  readonly variablesUpdated: ISignal<ISidecar, IVariablesUpdatedEvent>;
  /**
   * The REST client.
   */
  readonly requests: ISidecarRequests;
}

export const ISidecar = new Token<ISidecar>(
  'jupyter-sidecar-ext:ISidecar',
  'The jupyter_sidecar_ext server extension: its features, its events and its REST API.'
);

/**
 * ID of the main plugin (provides {@link ISidecar}); its settings schema,
 * `schema/plugin.json`, holds the settings of output restoring.
 */
export const PLUGIN_ID = 'jupyter-sidecar-ext:plugin';
