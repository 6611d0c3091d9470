/**
 * The server-held execution queue of kernels, as the labextension sees it: the
 * last answer of `GET .../queue` per kernel, and removing a queued request.
 *
 * Removing asks the server to drop the request without interrupting the
 * kernel; the page that sent it then receives an `aborted` execute_reply, so
 * JupyterLab clears the cell's `[*]` prompt by itself.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ISidecarRequests } from '../tokens';
import { errorMessage, httpStatus } from '../utils';
import type {
  IQueueEntry,
  IQueueState,
  IRemoveResult,
  RemoveFailure
} from './types';

export class QueueModel implements IDisposable {
  constructor(options: QueueModel.IOptions) {
    this._requests = options.requests;
  }

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
      state = await this._requests.queue(kernelId);
    } catch (error) {
      if (httpStatus(error) !== 404) {
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
      await this._requests.removeFromQueue(kernelId, msgId);
      return { cellId, removed: true };
    } catch (error) {
      const message = errorMessage(error);
      const status = httpStatus(error);
      const failure: RemoveFailure =
        status === 404 ? 'not-queued' : status === 409 ? 'running' : 'error';
      return { cellId, removed: false, failure, message };
    }
  }

  private _requests: Pick<ISidecarRequests, 'queue' | 'removeFromQueue'>;
  private _isDisposed = false;
  private _states = new Map<string, IQueueState>();
  private _changed = new Signal<this, string>(this);
}

export namespace QueueModel {
  export interface IOptions {
    requests: Pick<ISidecarRequests, 'queue' | 'removeFromQueue'>;
  }
}
