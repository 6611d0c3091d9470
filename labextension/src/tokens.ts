/**
 * Interfaces shared by the plugins of jupyter-sidecar-ext.
 *
 * The REST shapes mirror the server extension's contract
 * (`{base_url}api/sidecar/...`, see the project's ARCHITECTURE.md).
 */

import type * as nbformat from '@jupyterlab/nbformat';

/**
 * Namespace of the server extension's REST API, relative to the base URL.
 */
export const API_NAMESPACE = 'api/sidecar';

/**
 * ID of the main plugin; its settings schema is `schema/plugin.json`.
 */
export const PLUGIN_ID = 'jupyter-sidecar-ext:plugin';

/**
 * ID of the output restoring plugin; it follows the settings of
 * {@link PLUGIN_ID}.
 */
export const RESTORE_PLUGIN_ID = 'jupyter-sidecar-ext:restore';

/**
 * Readiness marker: `document.body.dataset.sidecarExt` (the HTML attribute
 * `data-sidecar-ext`) is set to this value once the main plugin has activated
 * and its first call to the server extension has settled, successfully or not.
 * UI tests wait for `body[data-sidecar-ext="active"]`.
 */
export const READY_MARKER = 'active';

/**
 * Reply of `GET api/sidecar`.
 */
export interface IServerInfo {
  /**
   * Version of the Python package `jupyter_sidecar_ext`.
   */
  version: string;
  /**
   * Features the server extension offers (e.g. recording, variables, lint).
   */
  features: string[];
}

/**
 * User settings of the extension (`schema/plugin.json`).
 */
export interface ISidecarSettings {
  /**
   * Fill in outputs recorded by the server while no browser was watching.
   */
  restoreOutputs: boolean;
}

/**
 * Default values of {@link ISidecarSettings}, matching the schema defaults.
 */
export const DEFAULT_SETTINGS: ISidecarSettings = {
  restoreOutputs: true
};

/**
 * Schema of the server's `cell_changed` events on the event bus.
 */
export const CELL_CHANGED_SCHEMA =
  'https://events.jupyter.org/jupyter_sidecar_ext/cell_changed/v1';

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
 * Data of a `cell_changed` event (schema {@link CELL_CHANGED_SCHEMA}).
 */
export interface ICellChangedEvent {
  kernel_id: string;
  cell_id: string;
  msg_id: string;
  status: CellStatus;
  execution_count: number | null;
  seq: number;
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
 * State of output restoring for a notebook, on its panel's node as
 * `data-sidecar-restore`: `off` (setting disabled), `syncing` (reading the
 * server's record), `synced` (done; `data-sidecar-syncs` counts the
 * synchronisations). UI tests wait on it instead of sleeping.
 */
export type RestoreState = 'off' | 'syncing' | 'synced';
