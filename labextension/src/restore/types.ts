/**
 * Shapes of the server's record of executions (`ShadowCell` and friends in
 * the REST contract) and of what output restoring reports.
 */

import type * as nbformat from '@jupyterlab/nbformat';

import type { ISidecarRequests } from '../tokens';

/**
 * Execution status of a recorded cell.
 */
export type CellStatus = 'queued' | 'running' | 'ok' | 'error' | 'aborted';

/**
 * Statuses of a recorded cell whose execution is over.
 */
export const FINAL_STATUSES: ReadonlySet<CellStatus> = new Set<CellStatus>([
  'ok',
  'error',
  'aborted'
]);

/**
 * One execution as the server recorded it (`ShadowCell` in the contract).
 */
export interface IShadowCell {
  /**
   * JupyterLab's cell id (`metadata.cellId` of the request), or the msg_id.
   */
  id: string;
  /**
   * msg_id of the `execute_request`; iopub messages answering it carry it
   * as their parent msg_id.
   */
  msg_id: string;
  source: string;
  status: CellStatus;
  execution_count: number | null;
  /**
   * nbformat v4 outputs, exactly as JupyterLab would show them.
   */
  outputs: nbformat.IOutput[];
  started: string | null;
  ended: string | null;
  /**
   * Notebook sequence number of the cell's last change.
   */
  seq: number;
  truncated: boolean;
  /**
   * Kernel run (restarts counted) the execution belongs to.
   */
  run: number;
  /**
   * Whether the execution belongs to an earlier kernel run (before a restart).
   */
  stale: boolean;
  /**
   * Whether kernel messages of this execution were lost.
   */
  gap: boolean;
  /**
   * The input the run waits for (null: none; absent on older servers).
   */
  input_request?: IInputRequest | null;
  /**
   * It ended while no page of the kernel was connected (absent on older servers).
   */
  unwatched?: boolean;
}

/**
 * An input a run waits for (`input()`, `getpass()`).
 */
export interface IInputRequest {
  prompt: string;
  password: boolean;
}

/**
 * The key of an input box: which run asks, and what it asks.
 */
export function inputKey(msgId: string, request: IInputRequest): string {
  return `${msgId}\n${request.password ? 1 : 0}\n${request.prompt}`;
}

/**
 * Reply of `GET api/sidecar/kernels/{kernel_id}/notebook`.
 */
export interface IShadowNotebook {
  kernel_id: string;
  path: string | null;
  alive: boolean;
  seq: number;
  run: number;
  cells: IShadowCell[];
}

/**
 * One item of `GET api/sidecar/kernels[?path=...]`.
 */
export interface IKernelSummary {
  kernel_id: string;
  kernel_name: string;
  /**
   * False for a kernel that is gone (shut down, or from before a server restart).
   */
  alive: boolean;
  execution_state: string | null;
  connections: number;
  cells: number;
  queued: number;
  last_activity: string | null;
  /**
   * Notebook path of the kernel's session, when known.
   */
  path: string | null;
  /**
   * When the kernel's record last changed (servers with persistence).
   */
  updated?: string | number | null;
}

/**
 * Why a recorded execution was not put back into a page cell.
 */
export type SkipReason =
  'stale' | 'edited' | 'busy' | 'newer' | 'owned' | 'handled' | 'missing';

/**
 * What one synchronisation of a notebook with its kernel's record did.
 */
export interface IRestoreReport {
  /**
   * Kernel whose record was read (null: the notebook has no kernel).
   */
  kernelId: string | null;
  /**
   * Why the synchronisation ran (opened, kernel changed, reconnected...).
   */
  reason: string;
  /**
   * Ids of cells whose outputs and execution count were put back.
   */
  filled: string[];
  /**
   * Ids of cells still executing, now followed live.
   */
  followed: string[];
  /**
   * Cells left alone, and why.
   */
  skipped: Array<{ cellId: string; reason: SkipReason }>;
  /**
   * Cells offered outputs recorded by an earlier kernel.
   */
  offered: string[];
  /**
   * The notebook is a shared document that the server fills: this page put
   * nothing back itself.
   */
  shared?: boolean;
}

/**
 * Outputs of one page cell as recorded by an earlier kernel, offered to the user.
 */
export interface IOffer {
  cellId: string;
  kernelId: string;
  cell: IShadowCell;
}

/**
 * The REST calls output restoring makes.
 */
export type RestoreRequests = Pick<
  ISidecarRequests,
  'notebook' | 'cell' | 'kernelsForPath' | 'answerInput'
>;

/**
 * State of output restoring for a notebook: `off` (setting disabled),
 * `syncing` (reading the server's record), `synced` (done).
 */
export type RestoreState = 'off' | 'syncing' | 'synced';
