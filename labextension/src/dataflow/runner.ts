/**
 * Runs a plan of the server through JupyterLab's own execution path
 * (`NotebookActions.runCells` with the notebook's session), so prompts,
 * outputs, "stop on error" and the other plugins' hooks behave as for any
 * run. Also reactive mode's follow-ups: after a cell run in this page ends
 * well, its dependents run.
 */

import { ISessionContextDialogs, Notification } from '@jupyterlab/apputils';
import { Cell, CodeCell } from '@jupyterlab/cells';
import {
  INotebookTracker,
  Notebook,
  NotebookActions,
  NotebookPanel
} from '@jupyterlab/notebook';
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';

import type { ISidecar } from '../tokens';
import { errorMessage } from '../utils';
import { codeCells, notebookCells } from './notebook';
import { inPlanOrder, planRequest, reactiveFollowUps } from './plan';
import type { PlanDirection } from './types';

export class PlanRunner {
  constructor(private readonly _options: PlanRunner.IOptions) {
    NotebookActions.executed.connect(this._onExecuted, this);
  }

  /**
   * Reactive mode: every run of a cell in this page also runs its dependents.
   */
  reactive = false;

  /**
   * Plan for the cell and run the plan; the ids run, or null when nothing
   * could be planned (the user was told why).
   */
  async run(
    panel: NotebookPanel,
    target: CodeCell,
    direction: PlanDirection
  ): Promise<string[] | null> {
    const plan = await this._plan(panel, target, direction);
    if (!plan) {
      return null;
    }
    const cells = inPlanOrder(plan, codeCells(panel), cell => cell.model.id);
    await this._runCells(panel, cells);
    return cells.map(cell => cell.model.id);
  }

  dispose(): void {
    NotebookActions.executed.disconnect(this._onExecuted, this);
  }

  /**
   * The server's plan; failures are told to the user, or only logged when
   * `quiet` (reactive follow-ups: a run the user asked for has happened).
   */
  private async _plan(
    panel: NotebookPanel,
    target: CodeCell,
    direction: PlanDirection,
    quiet = false
  ): Promise<string[] | null> {
    const { sidecar, trans } = this._options;
    const tell = (message: string): void => {
      if (quiet) {
        console.warn(`jupyter-sidecar-ext: ${message}`);
      } else {
        Notification.warning(message, { autoClose: 5000 });
      }
    };
    await panel.sessionContext.ready;
    const kernelId = panel.sessionContext.session?.kernel?.id;
    if (!kernelId) {
      tell(trans.__('The notebook has no kernel to run the cells.'));
      return null;
    }
    const request = planRequest(
      notebookCells(panel),
      target.model.id,
      direction
    );
    try {
      return (await sidecar.requests.plan(kernelId, request)).cells;
    } catch (error) {
      tell(trans.__('Could not plan the run: %1', errorMessage(error)));
      return null;
    }
  }

  /**
   * Run cells of a plan; their ends do not start reactive follow-ups (the
   * plan holds them already).
   */
  private async _runCells(
    panel: NotebookPanel,
    cells: CodeCell[]
  ): Promise<void> {
    if (cells.length === 0) {
      return;
    }
    cells.forEach(cell => this._planned.add(cell));
    try {
      await NotebookActions.runCells(
        panel.content,
        cells,
        panel.sessionContext,
        this._options.dialogs ?? undefined,
        this._options.translator ?? undefined
      );
    } finally {
      cells.forEach(cell => this._planned.delete(cell));
    }
  }

  private _onExecuted(
    _: unknown,
    args: { notebook: Notebook; cell: Cell; success: boolean }
  ): void {
    const { notebook, cell, success } = args;
    if (this._planned.delete(cell) || !this.reactive || !success) {
      return;
    }
    const panel = this._options.tracker.find(
      widget => widget.content === notebook
    );
    if (panel && cell instanceof CodeCell) {
      void this._followUp(panel, cell);
    }
  }

  private async _followUp(panel: NotebookPanel, cell: CodeCell): Promise<void> {
    const plan = await this._plan(panel, cell, 'downstream', true);
    if (!plan) {
      return;
    }
    const cells = codeCells(panel);
    const pending = new Set(
      cells
        .filter(other => other.model.executionState === 'running')
        .map(other => other.model.id)
    );
    const ids = reactiveFollowUps(plan, cell.model.id, pending);
    await this._runCells(
      panel,
      inPlanOrder(ids, cells, other => other.model.id)
    );
  }

  private _planned = new WeakSet<Cell>();
}

export namespace PlanRunner {
  export interface IOptions {
    sidecar: ISidecar;
    tracker: INotebookTracker;
    dialogs: ISessionContextDialogs | null;
    translator: ITranslator | null;
    trans: TranslationBundle;
  }
}
