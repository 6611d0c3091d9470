/**
 * CellErrorMarks: why a cell could not be formatted, shown on the cell itself
 * (no dialog), until the cell is formatted again or its source is edited.
 */

import type { Cell } from '@jupyterlab/cells';
import type { TranslationBundle } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { Panel, PanelLayout, Widget } from '@lumino/widgets';

/**
 * Class of the note added below a cell's input.
 */
export const LINT_ERROR_CLASS = 'jp-Sidecar-lintError';

/**
 * Class of a cell that shows a formatting error.
 */
export const CELL_LINT_ERROR_CLASS = 'jp-Sidecar-mod-lintError';

export class CellErrorMarks implements IDisposable {
  constructor(trans: TranslationBundle) {
    this._trans = trans;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Cells that show an error now.
   */
  get cells(): Cell[] {
    return [...this._notes.keys()];
  }

  /**
   * Show `message` on `cell`, replacing an error it showed before.
   */
  show(cell: Cell, message: string): void {
    if (this._isDisposed || cell.isDisposed) {
      return;
    }
    let note = this._notes.get(cell);
    if (!note) {
      note = new Widget({ node: document.createElement('div') });
      note.addClass(LINT_ERROR_CLASS);
      note.node.setAttribute('role', 'status');
      this._notes.set(cell, note);
      cell.addClass(CELL_LINT_ERROR_CLASS);
      cell.model.sharedModel.changed.connect(this._onCellChanged, this);
      cell.disposed.connect(this._onCellDisposed, this);
      void this._attach(cell, note);
    }
    note.node.textContent = this._trans.__('Not formatted: %1', message);
    note.node.title = message;
  }

  /**
   * Remove the error `cell` shows, if any.
   */
  clear(cell: Cell): void {
    const note = this._notes.get(cell);
    if (!note) {
      return;
    }
    this._notes.delete(cell);
    if (!cell.isDisposed) {
      cell.removeClass(CELL_LINT_ERROR_CLASS);
      cell.model.sharedModel.changed.disconnect(this._onCellChanged, this);
      cell.disposed.disconnect(this._onCellDisposed, this);
    }
    note.dispose();
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    for (const cell of this.cells) {
      this.clear(cell);
    }
    this._isDisposed = true;
  }

  /**
   * Put the note right below the cell's input, once the cell is rendered
   * (a cell scrolled far away may still be a placeholder).
   */
  private async _attach(cell: Cell, note: Widget): Promise<void> {
    await cell.ready;
    if (note.isDisposed || cell.isDisposed) {
      return;
    }
    const layout = cell.layout as PanelLayout;
    const wrapper = cell.inputArea?.parent;
    const index =
      wrapper instanceof Panel ? layout.widgets.indexOf(wrapper) : -1;
    layout.insertWidget(index >= 0 ? index + 1 : layout.widgets.length, note);
  }

  private _onCellChanged(
    shared: Cell['model']['sharedModel'],
    change: { sourceChange?: unknown }
  ): void {
    if (!change.sourceChange) {
      return;
    }
    const cell = [...this._notes.keys()].find(
      candidate => candidate.model.sharedModel === shared
    );
    if (cell) {
      this.clear(cell);
    }
  }

  private _onCellDisposed(cell: Widget): void {
    this._notes.get(cell as Cell)?.dispose();
    this._notes.delete(cell as Cell);
  }

  private _isDisposed = false;
  private _notes = new Map<Cell, Widget>();
  private _trans: TranslationBundle;
}
