/**
 * KernelFollower: for one kernel connection of a notebook, the executions that
 * an earlier page started and this page follows live (see {@link LiveCell}).
 */

import type { ICodeCellModel } from '@jupyterlab/cells';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { LiveCell } from './live';
import { displayIdOf, parentMsgId } from './outputs';
import { remember } from '../utils';
import { FINAL_STATUSES, IShadowCell, RestoreRequests } from './types';

/**
 * Times the record of a followed execution is re-read when messages of that
 * execution arrived while it was being read.
 */
const MAX_REREADS = 3;

/**
 * Delay before news that a followed execution ended, other than its idle
 * status (server events, a re-read record), ends it: the server may learn the
 * end from the execute_reply before the last outputs reach this page.
 */
const END_GRACE_MS = 1000;

/**
 * Executions sent by this page remembered (bounded).
 */
const MAX_OWNED = 10_000;

/**
 * Message counts per parent msg_id, taken while a record is read.
 */
export type Capture = Map<string, number>;

export class KernelFollower implements IDisposable {
  constructor(
    readonly kernel: Kernel.IKernelConnection,
    private readonly _requests: RestoreRequests
  ) {
    kernel.iopubMessage.connect(this._onIOPub, this);
    kernel.anyMessage.connect(this._onAnyMessage, this);
    kernel.statusChanged.connect(this._onStatus, this);
  }

  /**
   * Emitted with the msg_id of each execution followed to its end, or handed
   * back to JupyterLab.
   */
  get finished(): ISignal<this, string> {
    return this._finished;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Whether this page sent the execution (JupyterLab follows it itself).
   */
  owns(msgId: string): boolean {
    return this._owned.has(msgId);
  }

  isFollowing(msgId: string): boolean {
    return this._live.has(msgId);
  }

  /**
   * Count the messages of executions not followed yet, per parent, until
   * {@link endCapture}: those that arrive while a record is read may or may
   * not be in it.
   */
  startCapture(): Capture {
    const capture: Capture = new Map();
    this._captures.add(capture);
    return capture;
  }

  endCapture(capture: Capture): void {
    this._captures.delete(capture);
  }

  /**
   * Show a queued or running execution in its page cell and follow it.
   *
   * @param ambiguous Messages of the execution arrived while its record was
   *   read: the cell's record is re-read until none do (bounded).
   */
  async follow(
    model: ICodeCellModel,
    shadow: IShadowCell,
    ambiguous: boolean
  ): Promise<void> {
    for (const other of [...this._live.values()]) {
      if (other.cellId === shadow.id) {
        this._drop(other, 'stop'); // superseded by a newer execution
      }
    }
    const live = new LiveCell(model, shadow.id, shadow.msg_id);
    this._live.set(live.msgId, live);
    live.ended.connect(() => void this._end(live));
    let current: IShadowCell | null = shadow;
    for (let i = 0; ambiguous && i < MAX_REREADS; i++) {
      live.hold();
      current = await this._requests
        .cell(this.kernel.id, live.cellId)
        .catch(() => null);
      if (current?.msg_id !== live.msgId || this._isDisposed) {
        this._drop(live, 'stop');
        return;
      }
      ambiguous = live.held > 0;
    }
    if (live.phase === 'done') {
      return; // the page ran the cell again meanwhile
    }
    if (FINAL_STATUSES.has(current.status)) {
      this._finish(live, current);
    } else {
      live.reset(current);
    }
  }

  /**
   * The server says a followed execution ended: end it unless its idle status
   * comes first.
   */
  settle(msgId: string): void {
    const live = this._live.get(msgId);
    if (live) {
      setTimeout(() => live.noteEnded(), END_GRACE_MS);
    }
  }

  /**
   * Stop following every execution (cells no longer show as running).
   */
  stopAll(): void {
    for (const live of [...this._live.values()]) {
      this._drop(live, 'stop');
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.stopAll();
    this.kernel.iopubMessage.disconnect(this._onIOPub, this);
    this.kernel.anyMessage.disconnect(this._onAnyMessage, this);
    this.kernel.statusChanged.disconnect(this._onStatus, this);
    Signal.clearData(this);
  }

  private async _end(live: LiveCell): Promise<void> {
    const shadow = await this._requests
      .cell(this.kernel.id, live.cellId)
      .catch(() => null);
    this._finish(live, this._isDisposed ? null : shadow);
  }

  private _finish(live: LiveCell, shadow: IShadowCell | null): void {
    live.finish(shadow);
    this._forget(live, true);
  }

  /**
   * Stop following: `stop` leaves the cell idle (following may start again,
   * e.g. once restoring is turned back on), `release` leaves the cell to
   * JupyterLab, which runs it again.
   */
  private _drop(live: LiveCell, how: 'stop' | 'release'): void {
    if (how === 'stop') {
      live.stop();
    } else {
      live.release();
    }
    this._forget(live, how === 'release');
  }

  private _forget(live: LiveCell, finished: boolean): void {
    if (this._live.get(live.msgId) === live) {
      this._live.delete(live.msgId);
      if (finished) {
        this._finished.emit(live.msgId);
      }
    }
  }

  private _onIOPub(
    _: Kernel.IKernelConnection,
    msg: KernelMessage.IIOPubMessage
  ): void {
    const type = msg.header.msg_type;
    if (
      displayIdOf(msg) &&
      (type === 'display_data' ||
        type === 'update_display_data' ||
        type === 'execute_result')
    ) {
      for (const live of this._live.values()) {
        live.updateDisplay(msg);
      }
    }
    const parent = parentMsgId(msg);
    if (parent === null) {
      return;
    }
    const live = this._live.get(parent);
    if (live) {
      live.handle(msg);
      return;
    }
    for (const capture of this._captures) {
      capture.set(parent, (capture.get(parent) ?? 0) + 1);
    }
  }

  /**
   * Executions this page sends are JupyterLab's own; a followed cell that
   * the page runs again is handed back to JupyterLab.
   */
  private _onAnyMessage(
    _: Kernel.IKernelConnection,
    args: Kernel.IAnyMessageArgs
  ): void {
    const { msg, direction } = args;
    if (direction !== 'send' || msg.header.msg_type !== 'execute_request') {
      return;
    }
    remember(this._owned, msg.header.msg_id, MAX_OWNED);
    const cellId = (msg.metadata as { cellId?: unknown }).cellId;
    for (const live of [...this._live.values()]) {
      if (live.cellId === cellId) {
        this._drop(live, 'release');
      }
    }
  }

  private _onStatus(_: Kernel.IKernelConnection, status: Kernel.Status): void {
    if (
      status === 'restarting' ||
      status === 'autorestarting' ||
      status === 'dead'
    ) {
      this.stopAll(); // the executions ended with the kernel process
    }
  }

  private _isDisposed = false;
  private _live = new Map<string, LiveCell>();
  private _captures = new Set<Capture>();
  private _owned = new Set<string>();
  private _finished = new Signal<this, string>(this);
}
