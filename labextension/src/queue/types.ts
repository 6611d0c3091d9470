/**
 * Shapes of the server-held execution queue (`GET .../queue`) and of removing
 * requests from it.
 */

/**
 * One request held by the server's queue.
 */
export interface IQueueEntry {
  msg_id: string;
  /**
   * JupyterLab's cell id (`metadata.cellId` of the request), when sent.
   */
  cell_id: string | null;
  code: string;
  session: string;
  source: 'websocket' | 'http';
  queued_at: string;
}

/**
 * Reply of `GET api/sidecar/kernels/{kernel_id}/queue`.
 */
export interface IQueueState {
  kernel_id: string;
  enabled: boolean;
  running: IQueueEntry | null;
  queued: IQueueEntry[];
}

/**
 * Why a request could not be removed.
 */
export type RemoveFailure = 'not-queued' | 'running' | 'error';

export interface IRemoveResult {
  cellId: string;
  removed: boolean;
  failure?: RemoveFailure;
  message?: string;
}

/**
 * Reply of `POST api/sidecar/kernels/{kernel_id}/queue/interrupt`.
 */
export interface IQueueInterrupt {
  kernel_id: string;
  /**
   * msg_id of the request that ran when the kernel was interrupted.
   */
  interrupted: string | null;
  /**
   * Whether the waiting requests go on after the interrupted one.
   */
  continued: boolean;
  waiting: number;
}
