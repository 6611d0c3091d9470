/**
 * No run silently dropped: a cell run (Shift+Enter, Run All...) issued while
 * the notebook's kernel is still initializing is held and sent once the
 * kernel takes requests, in order, with its `[*]` prompt shown at once.
 *
 * JupyterLab's cell executor emits `NotebookActions.executionScheduled` and
 * then calls `CodeCell.execute`, which clears the cell and sends nothing while
 * the session has no kernel connection. The plugin listens to that signal
 * (no command or executor is replaced, so other extensions' executors keep
 * working): a run scheduled without a kernel connection is held, and run
 * again through the notebook's cell executor as soon as the connection
 * exists, which queues it until connected. A run issued once the connection
 * exists is JupyterLab's, queued the same way, so it follows the held ones.
 * Frontend only: on whatever the server offers.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ISessionContextDialogs } from '@jupyterlab/apputils';
import { Cell, CodeCell } from '@jupyterlab/cells';
import {
  INotebookCellExecutor,
  INotebookTracker,
  Notebook,
  NotebookActions,
  NotebookPanel,
  runCell
} from '@jupyterlab/notebook';
import { ITranslator } from '@jupyterlab/translation';
import { ISignal, Signal } from '@lumino/signaling';

import { fateOfHeldRuns, HeldRuns } from './held';

export const HOLD_PLUGIN_ID = 'jupyter-sidecar-ext:hold';

/**
 * Emit one of NotebookActions' signals for a run JupyterLab itself would have
 * announced (they are lumino Signals behind an ISignal type).
 */
function emit<T>(signal: ISignal<unknown, T>, args: T): void {
  if (signal instanceof Signal) {
    signal.emit(args);
  }
}

class RunHolder {
  constructor(
    private readonly _tracker: INotebookTracker,
    private readonly _executor: INotebookCellExecutor,
    private readonly _dialogs: ISessionContextDialogs | null,
    private readonly _translator: ITranslator | null
  ) {
    NotebookActions.executionScheduled.connect(this._onScheduled, this);
    _tracker.forEach(panel => this._watch(panel));
    _tracker.widgetAdded.connect((_, panel) => this._watch(panel));
  }

  /**
   * Called by JupyterLab's executor right before `CodeCell.execute`: without
   * a kernel connection that call sends nothing, so the run is held.
   */
  private _onScheduled(
    _: unknown,
    { notebook, cell }: { notebook: Notebook; cell: Cell }
  ): void {
    const panel = this._tracker.find(widget => widget.content === notebook);
    if (
      !panel ||
      !(cell instanceof CodeCell) ||
      panel.sessionContext.session?.kernel ||
      !cell.model.sharedModel.getSource().trim() // never run, as in JupyterLab
    ) {
      return;
    }
    let runs = this._held.get(panel);
    if (!runs) {
      runs = new HeldRuns<CodeCell>();
      this._held.set(panel, runs);
    }
    runs.hold(cell);
    console.debug(
      `sidecar: holding a run of cell ${cell.model.id} until the kernel of ` +
        `${panel.context.path} is ready (${runs.size} held)`
    );
    const held = runs;
    // After CodeCell.execute cleared it, in this same turn: show it waiting.
    void Promise.resolve().then(() => {
      if (held.has(cell) && !cell.isDisposed) {
        cell.model.executionState = 'running';
      }
    });
  }

  private _watch(panel: NotebookPanel): void {
    const context = panel.sessionContext;
    const check = (): void => this._release(panel);
    context.statusChanged.connect(check);
    context.connectionStatusChanged.connect(check);
    context.kernelChanged.connect(check);
    panel.disposed.connect(() => this._held.delete(panel));
  }

  private _release(panel: NotebookPanel): void {
    const runs = this._held.get(panel);
    if (!runs || runs.size === 0) {
      return;
    }
    const context = panel.sessionContext;
    const fate = fateOfHeldRuns({
      isReady: context.isReady,
      hasNoKernel: context.hasNoKernel,
      kernel: context.session?.kernel
    });
    if (fate === 'drop') {
      // No kernel will run them (JupyterLab says why): show them not run.
      for (const cell of runs.release()) {
        cell.model.executionState = 'idle';
      }
      return;
    }
    if (fate === 'wait') {
      return;
    }
    const cells = runs.release();
    console.debug(
      `sidecar: the kernel of ${panel.context.path} is ready: ` +
        `sending ${cells.length} held run(s)`
    );
    for (const cell of cells) {
      void this._run(panel, cell);
    }
  }

  /**
   * Run the cell through the notebook's cell executor, as JupyterLab would
   * have (its error, if any, shows in the cell as usual).
   */
  private async _run(panel: NotebookPanel, cell: CodeCell): Promise<void> {
    const notebook = panel.content;
    if (!notebook.model) {
      return;
    }
    try {
      await this._executor.runCell({
        cell,
        notebook: notebook.model,
        notebookConfig: notebook.notebookConfig,
        onCellExecuted: args =>
          emit(NotebookActions.executed, { notebook, ...args }),
        onCellExecutionScheduled: args =>
          emit(NotebookActions.executionScheduled, { notebook, ...args }),
        sessionContext: panel.sessionContext,
        sessionDialogs: this._dialogs ?? undefined,
        translator: this._translator ?? undefined
      });
    } catch (reason) {
      // A KernelError is the cell's own error, shown in its output already.
      const message = reason instanceof Error ? reason.message : '';
      if (!message.startsWith('KernelReplyNotOK')) {
        console.warn('sidecar: a held run failed', reason);
      }
    }
  }

  private _held = new Map<NotebookPanel, HeldRuns<CodeCell>>();
}

const holdPlugin: JupyterFrontEndPlugin<void> = {
  id: HOLD_PLUGIN_ID,
  description:
    'Holds cell runs issued before the kernel is ready and sends them once it is, in order.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [INotebookCellExecutor, ISessionContextDialogs, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    executor: INotebookCellExecutor | null,
    dialogs: ISessionContextDialogs | null,
    translator: ITranslator | null
  ): void => {
    new RunHolder(tracker, executor ?? { runCell }, dialogs, translator);
  }
};

export default holdPlugin;
