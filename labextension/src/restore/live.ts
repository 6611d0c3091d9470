/**
 * LiveCell: a page cell following an execution that an earlier page started.
 *
 * JupyterLab drops iopub messages whose parent request has no future in this
 * page. A LiveCell takes them for one execution (parent msg_id) and applies
 * them to its cell's outputs, shows the cell as running, and on the end of
 * the execution sets the execution count.
 */

import type { ICodeCellModel } from '@jupyterlab/cells';
import type { KernelMessage } from '@jupyterlab/services';
import { ISignal, Signal } from '@lumino/signaling';

import {
  applyIOPub,
  DisplayMap,
  putRecorded,
  sameOutputs,
  updateDisplay
} from './outputs';
import { IShadowCell } from './types';

/**
 * Phases of a LiveCell.
 *
 * - `holding`: the server's record is being read; messages that arrive now
 *   may or may not be in it, so they are not applied (the record is re-read,
 *   or the end-of-execution check puts right what was missed);
 * - `live`: messages are applied as they arrive;
 * - `done`: the execution ended, or the page took the cell over.
 */
export type LivePhase = 'holding' | 'live' | 'done';

export class LiveCell {
  constructor(
    readonly model: ICodeCellModel,
    readonly cellId: string,
    readonly msgId: string
  ) {}

  get phase(): LivePhase {
    return this._phase;
  }

  /**
   * Emitted once when the execution ended (idle status of its request).
   */
  get ended(): ISignal<this, void> {
    return this._ended;
  }

  /**
   * Messages of this execution that arrived while holding.
   */
  get held(): number {
    return this._held;
  }

  /**
   * Stop applying messages while the record is read.
   */
  hold(): void {
    if (this._phase !== 'done') {
      this._phase = 'holding';
      this._held = 0;
    }
  }

  /**
   * Show the recorded state of the execution and go live.
   *
   * Messages held meanwhile are in the record (the server records each
   * message before it sends it to any browser) or, if they came during the
   * read, are put right when the execution ends.
   */
  reset(shadow: IShadowCell): void {
    if (this._phase === 'done' || this.model.isDisposed) {
      return;
    }
    this._displays.clear();
    this.model.trusted = true; // as the page that ran it would (see putRecorded)
    if (!sameOutputs(this.model.outputs.toJSON(), shadow.outputs)) {
      putRecorded(this.model, shadow.outputs);
    }
    this._count = shadow.execution_count ?? this._count;
    this.model.executionCount = null;
    this.model.executionState = 'running';
    this._phase = 'live';
    this._shown = true;
    if (this._idleSeen) {
      this._ended.emit();
    }
  }

  /**
   * The execution ended by other news (e.g. the server's event bus): as an
   * idle status of its request.
   */
  noteEnded(): void {
    if (this._phase === 'done' || this._idleSeen) {
      return;
    }
    this._idleSeen = true;
    if (this._phase === 'live') {
      this._ended.emit();
    }
  }

  /**
   * Take one iopub message whose parent is this execution.
   */
  handle(msg: KernelMessage.IIOPubMessage): void {
    if (this._phase === 'done') {
      return;
    }
    const msgType = msg.header.msg_type;
    if (msgType === 'execute_input') {
      const count = (msg as KernelMessage.IExecuteInputMsg).content
        .execution_count;
      this._count = typeof count === 'number' ? count : this._count;
    }
    if (this._phase === 'holding') {
      this._held += 1;
    } else if (!this.model.isDisposed) {
      applyIOPub(this.model.outputs, msg, this._displays);
    }
    if (
      msgType === 'status' &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === 'idle'
    ) {
      this.noteEnded();
    }
  }

  /**
   * Apply a display-id update (from any request) to this cell's outputs.
   */
  updateDisplay(msg: KernelMessage.IIOPubMessage): void {
    if (this._phase === 'live' && !this.model.isDisposed) {
      updateDisplay(this.model.outputs, msg, this._displays);
    }
  }

  /**
   * The execution ended: show the final record (if it is this execution's
   * and differs from what the page shows) and the execution count.
   */
  finish(shadow: IShadowCell | null): void {
    if (this._phase === 'done') {
      return;
    }
    const own = shadow !== null && shadow.msg_id === this.msgId;
    if (own && !this.model.isDisposed) {
      if (!sameOutputs(this.model.outputs.toJSON(), shadow.outputs)) {
        putRecorded(this.model, shadow.outputs);
      }
      this._count = shadow.execution_count ?? this._count;
      this._shown = true;
    }
    this.stop();
  }

  /**
   * Stop following: the cell no longer shows as running (outputs kept). A
   * cell never shown (still holding) is left as it was.
   */
  stop(): void {
    if (this._phase === 'done') {
      return;
    }
    this._phase = 'done';
    if (this._shown && !this.model.isDisposed) {
      this.model.executionState = 'idle';
      this.model.executionCount = this._count;
    }
    Signal.clearData(this);
  }

  /**
   * Stop following without touching the cell: the page executes it again.
   */
  release(): void {
    this._phase = 'done';
    Signal.clearData(this);
  }

  private _phase: LivePhase = 'holding';
  private _held = 0;
  private _idleSeen = false;
  private _shown = false;
  private _count: number | null = null;
  private _displays: DisplayMap = new Map();
  private _ended = new Signal<this, void>(this);
}
