/**
 * VariablesModel: the variable snapshot of one kernel as the server caches it,
 * plus the panel's sort and filter.
 *
 * The snapshot is read from the server's cache (`GET .../variables`) when the
 * kernel changes and on each `variables_updated` event for that kernel whose
 * `rows_version` differs from the rows held (an event that keeps them only
 * brings the count and freshness). Nothing is ever executed in the kernel:
 * the server lists variables on the kernel's control channel after each
 * execution.
 */

import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ISidecarRequests, IVariablesUpdatedEvent } from '../tokens';
import { errorMessage } from '../utils';
import { advancedSnapshot, sortedRows } from './snapshot';
import type {
  IVariable,
  IVariablesSnapshot,
  ISort,
  PanelState,
  SortColumn
} from './types';

export class VariablesModel implements IDisposable {
  constructor(options: VariablesModel.IOptions) {
    this._requests = options.requests;
  }

  /**
   * Emitted whenever anything shown changes.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Emitted with the kernel's id when it starts a counted execution (iopub
   * `execute_input`): what was read of its variables may be out of date.
   */
  get executionStarted(): ISignal<this, string> {
    return this._executionStarted;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get kernelId(): string | null {
    return this._kernel?.id ?? null;
  }

  get snapshot(): IVariablesSnapshot | null {
    return this._snapshot;
  }

  /**
   * Why the last request failed (state `error`).
   */
  get error(): string | null {
    return this._error;
  }

  get state(): PanelState {
    if (!this._kernel) {
      return 'no-kernel';
    }
    if (this._error !== null) {
      return 'error';
    }
    return this._snapshot?.state ?? 'loading';
  }

  /**
   * The kernel is running code: live from the kernel connection, or from the
   * snapshot when the connection has not said yet.
   */
  get busy(): boolean {
    const status = this._kernel?.status;
    if (status === 'busy' || status === 'idle') {
      return status === 'busy';
    }
    return this._snapshot?.kernel_busy ?? false;
  }

  /**
   * The snapshot may not show the latest values: the server has none yet,
   * says it is stale, or the kernel counted an execution it does not include.
   */
  get stale(): boolean {
    const snapshot = this._snapshot;
    if (!this._kernel || !snapshot || snapshot.state === 'unavailable') {
      return false;
    }
    if (snapshot.state === 'pending' || snapshot.stale === true) {
      return true;
    }
    const latest = this._latestCount;
    return latest !== null && (snapshot.execution_count ?? 0) < latest;
  }

  /**
   * While paused (the panel is hidden), news only mark the snapshot out of
   * date; it is read again when unpaused.
   */
  get paused(): boolean {
    return this._paused;
  }
  set paused(value: boolean) {
    this._paused = value;
    if (!value && this._outdated) {
      void this.refresh();
    }
  }

  get sort(): ISort {
    return this._sort;
  }

  get filter(): string {
    return this._filter;
  }
  set filter(value: string) {
    if (value !== this._filter) {
      this._filter = value;
      this._changed.emit();
    }
  }

  /**
   * Sort by a column; the same column again toggles the direction.
   */
  sortBy(column: SortColumn): void {
    this._sort =
      this._sort.column === column
        ? { column, ascending: !this._sort.ascending }
        : { column, ascending: true };
    this._changed.emit();
  }

  /**
   * The snapshot's rows, filtered (substring of name or type, any case) and
   * sorted; the same array until the rows, the filter or the sort change.
   */
  get rows(): IVariable[] {
    const variables = this._snapshot?.variables ?? [];
    let memo = this._rowsMemo;
    if (
      memo?.variables !== variables ||
      memo.filter !== this._filter ||
      memo.sort !== this._sort
    ) {
      const rows = sortedRows(variables, this._filter, this._sort);
      memo = { variables, filter: this._filter, sort: this._sort, rows };
      this._rowsMemo = memo;
    }
    return memo.rows;
  }

  /**
   * Follow another kernel (null: none); reads its snapshot at once.
   */
  setKernel(kernel: Kernel.IKernelConnection | null): void {
    if (kernel === this._kernel) {
      return;
    }
    this._unwire();
    this._kernel = kernel;
    this._snapshot = null;
    this._error = null;
    this._latestCount = null;
    if (kernel) {
      kernel.statusChanged.connect(this._onStatus, this);
      kernel.iopubMessage.connect(this._onIOPub, this);
      kernel.disposed.connect(this._onKernelDisposed, this);
    }
    this._changed.emit();
    void this.refresh();
  }

  /**
   * The server says a kernel's snapshot changed. If it is ours, the event
   * alone brings the snapshot up to date when its rows did not change (no
   * request, the same rows); else the snapshot is read again.
   */
  handleVariablesUpdated(event: IVariablesUpdatedEvent): void {
    if (!this._kernel || event.kernel_id !== this._kernel.id) {
      return;
    }
    const advanced =
      this._inFlight || this._outdated
        ? null // a read under way or owed: it may hold newer rows
        : advancedSnapshot(this._snapshot, event);
    if (!advanced) {
      void this.refresh();
      return;
    }
    this._snapshot = advanced;
    this._error = null;
    this._changed.emit();
  }

  /**
   * Read the kernel's snapshot from the server's cache. Requests never
   * overlap: one asked while another is in flight runs after it, once.
   */
  async refresh(): Promise<void> {
    if (this._paused) {
      this._outdated = true;
      return;
    }
    this._outdated = false;
    if (this._inFlight) {
      this._again = true;
      return this._inFlight;
    }
    this._inFlight = this._fetchLoop().finally(() => {
      this._inFlight = null;
    });
    return this._inFlight;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._unwire();
    this._kernel = null;
    Signal.clearData(this);
  }

  private async _fetchLoop(): Promise<void> {
    do {
      this._again = false;
      const kernel = this._kernel;
      if (!kernel || this._isDisposed) {
        return;
      }
      let snapshot: IVariablesSnapshot | null = null;
      let error: string | null = null;
      try {
        snapshot = await this._requests.variables(kernel.id);
      } catch (reason) {
        error = errorMessage(reason);
      }
      if (kernel !== this._kernel || this._isDisposed) {
        continue; // the kernel changed meanwhile: setKernel asked again
      }
      this._error = error;
      if (snapshot) {
        this._snapshot = snapshot;
      }
      this._changed.emit();
    } while (this._again);
  }

  private _onStatus(kernel: Kernel.IKernelConnection): void {
    if (kernel.status === 'restarting' || kernel.status === 'autorestarting') {
      this._latestCount = null; // counts start again from 1
    }
    this._changed.emit();
  }

  /**
   * Remember the latest execution count the kernel announced (iopub
   * `execute_input`, seen by every client of the kernel).
   */
  private _onIOPub(
    _: Kernel.IKernelConnection,
    msg: KernelMessage.IIOPubMessage
  ): void {
    if (msg.header.msg_type !== 'execute_input') {
      return;
    }
    const count = (msg as KernelMessage.IExecuteInputMsg).content
      .execution_count;
    if (typeof count === 'number' && count !== this._latestCount) {
      this._latestCount = count;
      this._changed.emit();
    }
    if (this._kernel) {
      this._executionStarted.emit(this._kernel.id);
    }
  }

  private _onKernelDisposed(): void {
    this.setKernel(null);
  }

  private _unwire(): void {
    const kernel = this._kernel;
    if (kernel) {
      kernel.statusChanged.disconnect(this._onStatus, this);
      kernel.iopubMessage.disconnect(this._onIOPub, this);
      kernel.disposed.disconnect(this._onKernelDisposed, this);
    }
  }

  private _requests: Pick<ISidecarRequests, 'variables'>;
  private _isDisposed = false;
  private _kernel: Kernel.IKernelConnection | null = null;
  private _snapshot: IVariablesSnapshot | null = null;
  private _error: string | null = null;
  private _latestCount: number | null = null;
  private _filter = '';
  private _sort: ISort = { column: 'name', ascending: true };
  private _inFlight: Promise<void> | null = null;
  private _again = false;
  private _paused = false;
  private _outdated = false;
  private _rowsMemo: {
    variables: readonly IVariable[];
    filter: string;
    sort: ISort;
    rows: IVariable[];
  } | null = null;
  private _changed = new Signal<this, void>(this);
  private _executionStarted = new Signal<this, string>(this);
}

export namespace VariablesModel {
  export interface IOptions {
    /**
     * Reads a kernel's snapshot from the server's cache.
     */
    requests: Pick<ISidecarRequests, 'variables'>;
  }
}
