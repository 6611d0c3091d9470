/**
 * Formatting of notebook cells and `.py` files: send the sources, then edit
 * the shared models with what came back, so the cursor stays and undo works.
 *
 * Only cells whose source is still what was sent are touched; a cell that
 * cannot be formatted shows why on itself; a failed request is a
 * notification, never a dialog.
 */

import { Notification } from '@jupyterlab/apputils';
import type { Cell } from '@jupyterlab/cells';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import type { FileEditor } from '@jupyterlab/fileeditor';
import type { Notebook, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import { errorMessage } from '../utils';
import { applyFormatted, IEditableSource } from './edit';
import { CellErrorMarks } from './errors';
import { ILintSettings, lintRequest } from './settings';
import type { ILintedCell, ILintRequest } from './types';

/**
 * What one formatting run did, by cell id.
 */
export interface IFormatReport {
  /**
   * Cells whose source was replaced by the formatted one.
   */
  formatted: string[];
  /**
   * Cells that were already formatted.
   */
  unchanged: string[];
  /**
   * Cells the formatters refused (their error is shown on them).
   */
  failed: string[];
  /**
   * Cells edited while the request was out: left alone.
   */
  skipped: string[];
  /**
   * Why the whole run failed (the server or the network), if it did.
   */
  error?: string;
}

function emptyReport(): IFormatReport {
  return { formatted: [], unchanged: [], failed: [], skipped: [] };
}

/**
 * Language names of notebooks the formatters understand.
 */
const PYTHON_LANGUAGE = /^i?python\d*$/;

export class SourceFormatter {
  constructor(options: SourceFormatter.IOptions) {
    this._settings = options.settings;
    this._lint = options.lint;
    this._trans = options.trans;
    this._marks = new CellErrorMarks(options.trans);
  }

  /**
   * Whether a notebook holds Python (or does not say which language it holds).
   */
  static isPython(panel: NotebookPanel): boolean {
    const model = panel.content.model;
    const info = model?.getMetadata('language_info') as
      { name?: string } | undefined;
    const spec = model?.getMetadata('kernelspec') as
      { language?: string } | undefined;
    const language = info?.name ?? spec?.language;
    return !language || PYTHON_LANGUAGE.test(language.toLowerCase());
  }

  /**
   * Code cells of a notebook: the selected ones (or the active one), or all.
   */
  static codeCells(notebook: Notebook, selectedOnly: boolean): Cell[] {
    return notebook.widgets.filter(
      cell =>
        cell.model.type === 'code' &&
        (!selectedOnly || notebook.isSelectedOrActive(cell))
    );
  }

  /**
   * Format code cells of a notebook panel (see {@link isPython} first).
   */
  async formatCells(
    panel: NotebookPanel,
    cells: readonly Cell[]
  ): Promise<IFormatReport> {
    const report = emptyReport();
    if (cells.length === 0) {
      return report;
    }
    const sent = cells.map(cell => ({
      id: cell.model.id,
      source: cell.model.sharedModel.getSource()
    }));
    let results: ILintedCell[];
    try {
      results = await this._lint(
        lintRequest(sent, panel.context.path, this._settings())
      );
    } catch (reason) {
      report.error = this._notifyFailure(reason);
      return report;
    }
    const edits: Array<{ cell: Cell; source: string }> = [];
    results.forEach((result, index) => {
      const cell = cells[index];
      const id = sent[index].id;
      const current = cell.isDisposed
        ? null
        : cell.model.sharedModel.getSource();
      if (current !== sent[index].source) {
        report.skipped.push(id);
      } else if (result.error !== undefined) {
        this._marks.show(cell, result.error);
        report.failed.push(id);
      } else {
        this._marks.clear(cell);
        if (result.changed && result.source !== sent[index].source) {
          edits.push({ cell, source: result.source });
          report.formatted.push(id);
        } else {
          report.unchanged.push(id);
        }
      }
    });
    this._applyToNotebook(panel, edits);
    return report;
  }

  /**
   * Format a `.py` file open in a file editor (sent with its `.py` path, the
   * server formats it as a whole Python file, not as a notebook cell).
   */
  async formatFile(
    widget: IDocumentWidget<FileEditor>
  ): Promise<IFormatReport> {
    const report = emptyReport();
    const shared = widget.content.model.sharedModel as IEditableSource;
    const path = widget.context.path;
    const source = shared.getSource();
    let result: ILintedCell;
    try {
      [result] = await this._lint(
        lintRequest([{ id: path, source }], path, this._settings())
      );
    } catch (reason) {
      report.error = this._notifyFailure(reason);
      return report;
    }
    if (widget.isDisposed || shared.getSource() !== source) {
      report.skipped.push(path);
    } else if (result.error !== undefined) {
      Notification.warning(
        this._trans.__('%1 was not formatted: %2', path, result.error),
        { autoClose: 8000 }
      );
      report.failed.push(path);
    } else if (applyFormatted(shared, result.source)) {
      report.formatted.push(path);
    } else {
      report.unchanged.push(path);
    }
    return report;
  }

  dispose(): void {
    this._marks.dispose();
  }

  /**
   * Edit the cells. With document-wide undo, all of them are one transaction
   * (one Ctrl+Z undoes the format); otherwise each cell's own undo history
   * gets one step (a notebook transaction would hide it from them).
   */
  private _applyToNotebook(
    panel: NotebookPanel,
    edits: Array<{ cell: Cell; source: string }>
  ): void {
    const apply = (): void => {
      for (const { cell, source } of edits) {
        applyFormatted(cell.model.sharedModel as IEditableSource, source);
      }
    };
    const notebook = panel.content.model?.sharedModel;
    if (notebook && !notebook.disableDocumentWideUndoRedo && edits.length > 1) {
      notebook.transact(apply);
    } else {
      apply();
    }
  }

  private _notifyFailure(reason: unknown): string {
    const message = errorMessage(reason);
    Notification.error(this._trans.__('Formatting failed: %1', message), {
      autoClose: 8000
    });
    console.warn('jupyter-sidecar-ext: formatting failed', reason);
    return message;
  }

  private _lint: (request: ILintRequest) => Promise<ILintedCell[]>;
  private _marks: CellErrorMarks;
  private _settings: () => ILintSettings;
  private _trans: TranslationBundle;
}

export namespace SourceFormatter {
  export interface IOptions {
    /**
     * The current settings (read at each run: changes apply at once).
     */
    settings: () => ILintSettings;
    /**
     * Formats cells on the server (see `ISidecarRequests.lint`).
     */
    lint: (request: ILintRequest) => Promise<ILintedCell[]>;
    trans: TranslationBundle;
  }
}
