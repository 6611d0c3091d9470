/**
 * Checking with ruff in JupyterLab: one NotebookChecker per notebook, its
 * count in the notebook toolbar, and the commands "Check Notebook" and "Fix
 * All in Notebook" (palette and cell context menu from `schema/lint.json`).
 * On only when the server lists the `check` feature.
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { ICommandPalette } from '@jupyterlab/apputils';
import { Notification } from '@jupyterlab/apputils';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';

import { NotebookChecker } from './checker';
import { DiagnosticCount } from './count';
import type { ILintSettings } from './settings';
import type { ILintedCell, ILintRequest } from './types';

/**
 * Command IDs of checking.
 */
export namespace CheckCommandIDs {
  /**
   * Check every code cell of the current notebook with ruff.
   */
  export const checkNotebook = 'sidecar:check-notebook';
  /**
   * Apply every fix the latest check offered in the current notebook.
   */
  export const fixAll = 'sidecar:fix-all';
}

/**
 * Name of the count in the notebook toolbar.
 */
const TOOLBAR_ITEM = 'sidecar-diagnostics';

export function activateChecking(options: {
  app: JupyterFrontEnd;
  notebooks: INotebookTracker;
  palette: ICommandPalette | null;
  lint: (request: ILintRequest) => Promise<ILintedCell[]>;
  settings: () => ILintSettings;
  trans: TranslationBundle;
}): void {
  const { app, notebooks, palette, trans } = options;
  const checkers = new Map<NotebookPanel, NotebookChecker>();
  const track = (panel: NotebookPanel): void => {
    if (checkers.has(panel) || panel.isDisposed) {
      return;
    }
    const checker = new NotebookChecker({
      panel,
      lint: options.lint,
      settings: options.settings,
      trans
    });
    checkers.set(panel, checker);
    checker.changed.connect(() =>
      app.commands.notifyCommandChanged(CheckCommandIDs.fixAll)
    );
    const count = new DiagnosticCount({ checker, trans });
    if (!panel.toolbar.insertAfter('sidecar-format', TOOLBAR_ITEM, count)) {
      panel.toolbar.addItem(TOOLBAR_ITEM, count);
    }
    panel.disposed.connect(() => {
      checkers.delete(panel);
      checker.dispose();
      count.dispose();
    });
  };
  notebooks.forEach(track);
  notebooks.widgetAdded.connect((_, panel) => track(panel));

  const current = (): NotebookChecker | null => {
    const panel = notebooks.currentWidget;
    return panel ? (checkers.get(panel) ?? null) : null;
  };
  app.commands.addCommand(CheckCommandIDs.checkNotebook, {
    label: trans.__('Check Notebook'),
    caption: trans.__(
      'Check every code cell with ruff: problems are underlined in the cells'
    ),
    isEnabled: () => current() !== null,
    execute: () => current()?.check(false)
  });
  app.commands.addCommand(CheckCommandIDs.fixAll, {
    label: trans.__('Fix All in Notebook'),
    caption: trans.__('Apply every fix the latest check offered'),
    isEnabled: () => (current()?.counts?.fixable ?? 0) > 0,
    execute: () => {
      const checker = current();
      if (checker && checker.fixAll() === 0) {
        Notification.info(trans.__('Nothing to fix.'), { autoClose: 3000 });
      }
    }
  });
  notebooks.currentChanged.connect(() => {
    app.commands.notifyCommandChanged(CheckCommandIDs.checkNotebook);
    app.commands.notifyCommandChanged(CheckCommandIDs.fixAll);
  });
  if (palette) {
    const category = trans.__('Sidecar');
    palette.addItem({ command: CheckCommandIDs.checkNotebook, category });
    palette.addItem({ command: CheckCommandIDs.fixAll, category });
  }
}
