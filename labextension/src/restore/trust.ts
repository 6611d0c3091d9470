/**
 * RunTrust: in a shared (real-time collaboration) document, a page trusts the
 * outputs of a run it did not start, from the start of the run.
 *
 * JupyterLab trusts a cell when the page runs it. With a shared document, a
 * run may be started elsewhere (another page, or the server itself with
 * jupyter-server-documents, whose rooms run the cells) and its outputs reach
 * the page through the document, untrusted when the notebook file is: widget
 * views then show their text fallback. A run clears the cell's outputs when it
 * starts, so the cell's outputs are trusted while it shows none and is
 * running: every output of the run is then created trusted, in this page only
 * (nothing is written into the document). A page opened mid-run trusts what
 * the cell already shows at its synchronisation instead (`trustShown`).
 */

import type { ICellModel, ICodeCellModel } from '@jupyterlab/cells';
import type { INotebookModel } from '@jupyterlab/notebook';
import type { IDisposable } from '@lumino/disposable';
import { Signal } from '@lumino/signaling';

export class RunTrust implements IDisposable {
  /**
   * @param active - whether runs are trusted now (a shared document whose
   * session has a kernel, restoring on).
   */
  constructor(
    model: INotebookModel,
    private readonly _active: () => boolean
  ) {
    for (const cell of model.cells) {
      this._watch(cell);
    }
    model.cells.changed.connect(this._onCellsChanged, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (!this._isDisposed) {
      this._isDisposed = true;
      Signal.disconnectReceiver(this);
    }
  }

  private _onCellsChanged(
    _: unknown,
    change: { type: string; newValues: readonly ICellModel[] }
  ): void {
    if (change.type === 'add') {
      for (const cell of change.newValues) {
        this._watch(cell);
      }
    }
  }

  private _watch(cell: ICellModel): void {
    if (isCode(cell)) {
      cell.stateChanged.connect(this._onCellState, this);
    }
  }

  private _onCellState(
    cell: ICellModel,
    change: { name: string; newValue?: unknown }
  ): void {
    if (
      change.name === 'executionState' &&
      change.newValue === 'running' &&
      isCode(cell) &&
      cell.outputs.length === 0 &&
      !cell.outputs.trusted &&
      this._active()
    ) {
      cell.outputs.trusted = true; // no output to create again
    }
  }

  private _isDisposed = false;
}

/**
 * `isCodeCellModel` of @jupyterlab/cells, without loading that package (jest).
 */
function isCode(cell: ICellModel): cell is ICodeCellModel {
  return cell.type === 'code';
}
