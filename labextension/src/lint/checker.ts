/**
 * NotebookChecker: the diagnostics of one notebook. Checks its code cells on
 * the server (as one program, in their order), shows the answer in the cell
 * editors, re-checks after a pause in editing once the notebook was checked,
 * and applies ruff's fixes through the shared model.
 *
 * Typing is never blocked: requests are asynchronous, only the latest one's
 * answer is used (older ones are dropped by a generation counter), and a
 * cell edited while its check was out keeps its marks, mapped through the
 * edit, until the next check.
 */

import { Notification } from '@jupyterlab/apputils';
import type { Cell } from '@jupyterlab/cells';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { EditorView } from '@codemirror/view';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage } from '../utils';
import {
  countDiagnostics,
  fixEdits,
  IDiagnosticCounts,
  RequestGenerations
} from './diagnostics';
import type { ITextEdit } from './edit';
import { showDiagnostics } from './editor';
import { SourceFormatter } from './formatter';
import { checkRequest, ILintSettings } from './settings';
import type { IDiagnostic, IFix, ILintedCell, ILintRequest } from './types';

/**
 * What a cell's last applied check found, and on which text.
 */
interface ICellResult {
  source: string;
  diagnostics: IDiagnostic[];
}

export class NotebookChecker implements IDisposable {
  constructor(options: NotebookChecker.IOptions) {
    this.panel = options.panel;
    this._lint = options.lint;
    this._settings = options.settings;
    this._trans = options.trans;
    this.panel.content.model?.contentChanged.connect(this._onEdited, this);
    this.panel.context.saveState.connect(this._onSaveState, this);
    this.panel.disposed.connect(this.dispose, this);
  }

  readonly panel: NotebookPanel;

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Emitted when a check starts or ends, and after fixes.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  /**
   * Whether a check is out.
   */
  get checking(): boolean {
    return this._pending > 0;
  }

  /**
   * What the latest check found (null before the first one).
   */
  get counts(): IDiagnosticCounts | null {
    const results = this._results;
    return results
      ? countDiagnostics([...results.values()].map(r => r.diagnostics))
      : null;
  }

  /**
   * Why the latest check failed, if it did.
   */
  get error(): string | null {
    return this._error;
  }

  /**
   * Check the notebook's code cells now. Quiet checks (after an edit or a
   * save) log failures instead of notifying.
   */
  async check(quiet = false): Promise<void> {
    if (this._isDisposed) {
      return;
    }
    this._cancelScheduled();
    if (!SourceFormatter.isPython(this.panel)) {
      if (!quiet) {
        Notification.info(
          this._trans.__('Checking is for Python notebooks only.'),
          { autoClose: 4000 }
        );
      }
      return;
    }
    const cells = SourceFormatter.codeCells(this.panel.content, false);
    const sent = cells.map(cell => ({
      id: cell.model.id,
      source: cell.model.sharedModel.getSource()
    }));
    this._sentKey = keyOf(sent);
    const generation = this._generations.next();
    this._pending++;
    this._changed.emit();
    let answer: ILintedCell[] | null = null;
    let failure: unknown = null;
    try {
      answer = await this._lint(checkRequest(sent, this.panel.context.path));
    } catch (reason) {
      failure = reason;
    } finally {
      this._pending--;
    }
    if (this._isDisposed) {
      return;
    }
    if (!this._generations.isLatest(generation)) {
      // A later check is out: its answer is the one to show.
      console.debug(
        `jupyter-sidecar-ext: dropped the stale check ${generation} ` +
          `of ${this.panel.context.path}`
      );
      this._changed.emit();
      return;
    }
    if (failure !== null || !answer) {
      this._error = errorMessage(failure);
      console.warn('jupyter-sidecar-ext: checking failed', failure);
      if (!quiet) {
        Notification.error(this._trans.__('Checking failed: %1', this._error), {
          autoClose: 8000
        });
      }
      this._changed.emit();
      return;
    }
    this._error = null;
    this._apply(cells, sent, answer);
    this._changed.emit();
  }

  /**
   * Apply the fix of one diagnostic of `cell`, as one undo step, and check
   * again. A cell edited since it was checked is checked again instead.
   */
  fix(cell: Cell, diagnostic: IDiagnostic): void {
    const result = this._results?.get(cell.model.id);
    const shared = cell.model.sharedModel;
    if (!diagnostic.fix || !result || shared.getSource() !== result.source) {
      void this.check(true);
      return;
    }
    applyToCell(cell, fixEdits(result.source, [diagnostic.fix]));
    void this.check(true);
  }

  /**
   * Apply every fix of the notebook (cells edited since the check are left
   * alone), then check again. With document-wide undo, one Ctrl+Z reverts
   * them all; otherwise each cell's undo reverts its own fixes in one step.
   *
   * @returns how many cells were fixed.
   */
  fixAll(): number {
    const edits: Array<{ cell: Cell; edits: ITextEdit[] }> = [];
    for (const cell of SourceFormatter.codeCells(this.panel.content, false)) {
      const result = this._results?.get(cell.model.id);
      const fixes: IFix[] = [];
      for (const diagnostic of result?.diagnostics ?? []) {
        if (diagnostic.fix) {
          fixes.push(diagnostic.fix);
        }
      }
      if (
        !result ||
        fixes.length === 0 ||
        cell.model.sharedModel.getSource() !== result.source
      ) {
        continue;
      }
      edits.push({ cell, edits: fixEdits(result.source, fixes) });
    }
    const apply = (): void => {
      for (const { cell, edits: cellEdits } of edits) {
        applyToCell(cell, cellEdits);
      }
    };
    const notebook = this.panel.content.model?.sharedModel;
    if (notebook && !notebook.disableDocumentWideUndoRedo && edits.length > 1) {
      notebook.transact(apply);
    } else {
      apply();
    }
    void this.check(true);
    return edits.length;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._cancelScheduled();
    this._generations.invalidate();
    this.panel.content.model?.contentChanged.disconnect(this._onEdited, this);
    this.panel.context.saveState.disconnect(this._onSaveState, this);
    Signal.clearData(this);
  }

  /**
   * Keep the answer for the cells still as they were sent, and show it.
   */
  private _apply(
    cells: readonly Cell[],
    sent: ReadonlyArray<{ id: string; source: string }>,
    answer: readonly ILintedCell[]
  ): void {
    const previous = this._results;
    const results = new Map<string, ICellResult>();
    cells.forEach((cell, index) => {
      if (cell.isDisposed) {
        return;
      }
      const id = sent[index].id;
      const source = sent[index].source;
      if (cell.model.sharedModel.getSource() !== source) {
        // Edited meanwhile: its marks follow the edit until the next check.
        const kept = previous?.get(id);
        if (kept) {
          results.set(id, kept);
        }
        return;
      }
      const result = { source, diagnostics: answer[index].diagnostics ?? [] };
      results.set(id, result);
      this._show(cell, result);
    });
    this._results = results;
  }

  /**
   * Show a cell's diagnostics in its editor, once it has one (cells far
   * from the viewport may not have rendered yet).
   */
  private _show(cell: Cell, result: ICellResult): void {
    const view = editorView(cell);
    const options = {
      fix: (diagnostic: IDiagnostic) => this.fix(cell, diagnostic),
      trans: this._trans,
      withGutter: this._withGutter
    };
    if (view) {
      showDiagnostics(view, result.source, result.diagnostics, options);
      return;
    }
    void cell.ready.then(() => {
      const ready = editorView(cell);
      if (ready && this._results?.get(cell.model.id) === result) {
        showDiagnostics(ready, result.source, result.diagnostics, options);
      }
    });
  }

  private _onEdited(): void {
    const settings = this._settings();
    if (!this._results || !settings.checkOnEdit || this._isDisposed) {
      return;
    }
    this._cancelScheduled();
    this._timer = setTimeout(() => {
      this._timer = null;
      // Outputs and metadata change the model too: check only new sources.
      const sources = SourceFormatter.codeCells(this.panel.content, false).map(
        cell => ({
          id: cell.model.id,
          source: cell.model.sharedModel.getSource()
        })
      );
      if (keyOf(sources) !== this._sentKey) {
        void this.check(true);
      }
    }, settings.checkDelay);
  }

  private _onSaveState(
    _: DocumentRegistry.Context,
    state: DocumentRegistry.SaveState
  ): void {
    if (state === 'completed' && this._settings().checkOnSave) {
      void this.check(true);
    }
  }

  private _cancelScheduled(): void {
    if (this._timer !== null) {
      clearTimeout(this._timer);
      this._timer = null;
    }
  }

  private _changed = new Signal<this, void>(this);
  private _error: string | null = null;
  private _generations = new RequestGenerations();
  private _isDisposed = false;
  private _lint: (request: ILintRequest) => Promise<ILintedCell[]>;
  private _pending = 0;
  private _results: Map<string, ICellResult> | null = null;
  private _sentKey = '';
  private _settings: () => ILintSettings;
  private _timer: ReturnType<typeof setTimeout> | null = null;
  private _trans: TranslationBundle;
  private _withGutter = new WeakSet<EditorView>();
}

export namespace NotebookChecker {
  export interface IOptions {
    panel: NotebookPanel;
    /**
     * Sends a lint request (see `ISidecarRequests.lint`).
     */
    lint: (request: ILintRequest) => Promise<ILintedCell[]>;
    /**
     * The current settings (read at each use).
     */
    settings: () => ILintSettings;
    trans: TranslationBundle;
  }
}

/**
 * Apply text edits (last first) to a cell's shared model as one undo step
 * of its own: typing just before or after does not merge into it.
 */
function applyToCell(cell: Cell, edits: readonly ITextEdit[]): void {
  if (edits.length === 0) {
    return;
  }
  const shared = cell.model.sharedModel;
  const undo = (shared as { undoManager?: { stopCapturing(): void } | null })
    .undoManager;
  undo?.stopCapturing();
  shared.transact(() => {
    for (const edit of edits) {
      shared.updateSource(edit.start, edit.end, edit.value);
    }
  });
  undo?.stopCapturing();
}

/**
 * The CodeMirror view of a cell's editor, if it has one yet.
 */
function editorView(cell: Cell): EditorView | null {
  if (cell.isDisposed) {
    return null;
  }
  const editor = cell.editor as unknown as { editor?: EditorView } | null;
  return editor?.editor ?? null;
}

function keyOf(cells: ReadonlyArray<{ id: string; source: string }>): string {
  return JSON.stringify(cells);
}
