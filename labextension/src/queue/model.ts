/**
 * The server-held execution queue of kernels, as the labextension sees it: the
 * last answer of `GET .../queue` per kernel, and removing a queued request.
 *
 * Removing asks the server to drop the request without interrupting the
 * kernel; the page that sent it then receives an `aborted` execute_reply, so
 * JupyterLab clears the cell's `[*]` prompt by itself.
 */

import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { requestAPI } from './request';

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

function queuePath(kernelId: string): string {
  return `kernels/${encodeURIComponent(kernelId)}/queue`;
}

export class QueueModel implements IDisposable {
  /**
   * Emitted with the kernel id when its cached queue changed.
   */
  get changed(): ISignal<this, string> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The cached queued (not running) entry of a cell, if any.
   */
  queuedEntry(kernelId: string, cellId: string): IQueueEntry | undefined {
    return this._states
      .get(kernelId)
      ?.queued.find(entry => entry.cell_id === cellId);
  }

  /**
   * Whether the cache shows anything queued for the kernel.
   */
  hasQueued(kernelId: string): boolean {
    return (this._states.get(kernelId)?.queued.length ?? 0) > 0;
  }

  /**
   * Read the kernel's queue again. A server without the queue endpoint, or
   * an unknown kernel, reads as an empty queue.
   */
  async refresh(kernelId: string): Promise<IQueueState | null> {
    let state: IQueueState | null = null;
    try {
      state = await requestAPI<IQueueState>(queuePath(kernelId));
    } catch (error) {
      if (!isStatus(error, 404)) {
        console.warn('jupyter-sidecar-ext: cannot read the queue', error);
      }
    }
    if (this._isDisposed) {
      return state;
    }
    if (state && Array.isArray(state.queued)) {
      this._states.set(kernelId, state);
    } else {
      this._states.delete(kernelId);
    }
    this._changed.emit(kernelId);
    return state;
  }

  /**
   * Remove the queued requests of these cells (fresh from the server, so a
   * cell that started meanwhile is reported, not interrupted).
   */
  async remove(kernelId: string, cellIds: string[]): Promise<IRemoveResult[]> {
    const state = await this.refresh(kernelId);
    const results: IRemoveResult[] = [];
    for (const cellId of cellIds) {
      const entry = state?.queued.find(item => item.cell_id === cellId);
      if (!entry) {
        const running = state?.running?.cell_id === cellId;
        results.push({
          cellId,
          removed: false,
          failure: running ? 'running' : 'not-queued'
        });
        continue;
      }
      results.push(await this._delete(kernelId, cellId, entry.msg_id));
    }
    await this.refresh(kernelId);
    return results;
  }

  /**
   * Forget a kernel's cache (its notebook closed or changed kernel).
   */
  forget(kernelId: string): void {
    if (this._states.delete(kernelId)) {
      this._changed.emit(kernelId);
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._states.clear();
    Signal.clearData(this);
  }

  private async _delete(
    kernelId: string,
    cellId: string,
    msgId: string
  ): Promise<IRemoveResult> {
    try {
      await requestAPI<unknown>(
        `${queuePath(kernelId)}/${encodeURIComponent(msgId)}`,
        { method: 'DELETE' }
      );
      return { cellId, removed: true };
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      const failure: RemoveFailure = isStatus(error, 404)
        ? 'not-queued'
        : isStatus(error, 409)
          ? 'running'
          : 'error';
      return { cellId, removed: false, failure, message };
    }
  }

  private _isDisposed = false;
  private _states = new Map<string, IQueueState>();
  private _changed = new Signal<this, string>(this);
}

function isStatus(error: unknown, status: number): boolean {
  return (
    error instanceof ServerConnection.ResponseError &&
    error.response.status === status
  );
}
