/**
 * "Remove from Queue": drop a cell that waits in the server-held execution
 * queue (JupyterLab shows it as `[*]` while another cell runs) without
 * interrupting the kernel. "Interrupt Running Cell and Continue": stop the
 * running cell alone, the waiting ones then run (a plain interrupt aborts
 * them, as ipykernel does). In the cell context menu, the Kernel menu
 * (schema/queue.json) and the command palette. On only when the server holds
 * a queue ("queue").
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { Cell, CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ITranslator, TranslationBundle } from '@jupyterlab/translation';

import { ISidecar } from '../tokens';
import { loadBundle } from '../translation';
import { errorMessage } from '../utils';
import { QueueModel } from './model';
import type { IRemoveResult } from './types';

/**
 * ID of the plugin; its settings schema is `schema/queue.json` (context menu).
 */
export const QUEUE_PLUGIN_ID = 'jupyter-sidecar-ext:queue';

export namespace QueueCommandIDs {
  export const remove = 'sidecar:remove-from-queue';
  export const interruptAndContinue = 'sidecar:interrupt-and-continue';
}

/**
 * Selected (or active) code cells of a notebook that JupyterLab shows as
 * waiting or running (`[*]`).
 */
function pendingCells(panel: NotebookPanel | null): CodeCell[] {
  if (!panel) {
    return [];
  }
  const notebook = panel.content;
  return notebook.widgets.filter(
    (cell: Cell): cell is CodeCell =>
      cell instanceof CodeCell &&
      notebook.isSelectedOrActive(cell) &&
      cell.model.executionState === 'running'
  );
}

function kernelIdOf(panel: NotebookPanel | null): string | null {
  return panel?.sessionContext.session?.kernel?.id ?? null;
}

/**
 * Tell the user about the cells that could not be removed (no dialog).
 */
function reportFailures(
  results: IRemoveResult[],
  trans: TranslationBundle
): void {
  const failed = results.filter(result => !result.removed);
  if (failed.length === 0) {
    return;
  }
  const reasons = failed.map(result => {
    switch (result.failure) {
      case 'running':
        return trans.__('the cell is already running');
      case 'not-queued':
        return trans.__('the cell is not in the queue any more');
      default:
        return result.message ?? trans.__('the server refused');
    }
  });
  Notification.warning(
    trans._n(
      'Could not remove %1 cell from the queue: %2',
      'Could not remove %1 cells from the queue: %2',
      failed.length,
      [...new Set(reasons)].join('; ')
    ),
    { autoClose: 5000 }
  );
}

const queuePlugin: JupyterFrontEndPlugin<void> = {
  id: QUEUE_PLUGIN_ID,
  description:
    'Remove a queued cell from the server-held execution queue without interrupting the kernel.',
  autoStart: true,
  requires: [ISidecar, INotebookTracker],
  optional: [ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecar,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    void sidecar.ready.then(() => {
      if (sidecar.hasFeature('queue')) {
        activateQueue(app, sidecar, tracker, palette, translator);
      }
    });
  }
};

function activateQueue(
  app: JupyterFrontEnd,
  sidecar: ISidecar,
  tracker: INotebookTracker,
  palette: ICommandPalette | null,
  translator: ITranslator | null
): void {
  const trans = loadBundle(translator);
  const model = new QueueModel({ requests: sidecar.requests });
  const current = (): NotebookPanel | null => tracker.currentWidget;
  const queuedCells = (): CodeCell[] => {
    const kernelId = kernelIdOf(current());
    return kernelId
      ? pendingCells(current()).filter(cell =>
          model.queuedEntry(kernelId, cell.model.id)
        )
      : [];
  };

  app.commands.addCommand(QueueCommandIDs.remove, {
    label: trans.__('Remove from Queue'),
    caption: trans.__(
      'Remove the selected waiting cells from the kernel queue, without interrupting the kernel'
    ),
    isVisible: () => pendingCells(current()).length > 0,
    isEnabled: () => queuedCells().length > 0,
    execute: async () => {
      const panel = current();
      const kernelId = kernelIdOf(panel);
      const cells = pendingCells(panel);
      if (!kernelId || cells.length === 0) {
        return;
      }
      const results = await model.remove(
        kernelId,
        cells.map(cell => cell.model.id)
      );
      reportFailures(results, trans);
      return results;
    }
  });
  model.changed.connect(() => {
    app.commands.notifyCommandChanged(QueueCommandIDs.remove);
    // An open context menu renders its items again (menus do not follow
    // commandChanged; the answer usually arrives just after it opened).
    const menu = app.contextMenu.menu;
    if (menu.isAttached) {
      menu.update();
    }
  });

  // The context menu reads the cache synchronously: refresh it as the menu
  // opens; the item is enabled as soon as the answer arrives.
  const refreshFor = (panel: NotebookPanel): void => {
    const kernelId = kernelIdOf(panel);
    if (kernelId && pendingCells(panel).length > 0) {
      void model.refresh(kernelId);
    }
  };
  const watch = (panel: NotebookPanel): void => {
    panel.node.addEventListener(
      'contextmenu',
      // After the notebook's own mousedown selected the cell under the pointer.
      () => refreshFor(panel),
      true
    );
    panel.sessionContext.kernelChanged.connect((_, change) => {
      if (change.oldValue) {
        model.forget(change.oldValue.id);
      }
    });
  };
  // Notebooks may have opened before the server said it holds a queue.
  tracker.forEach(watch);
  tracker.widgetAdded.connect((_, panel) => watch(panel));
  tracker.activeCellChanged.connect(() => {
    const panel = current();
    if (panel) {
      refreshFor(panel);
    }
  });

  addInterruptAndContinue(app, sidecar, tracker, trans);
  for (const command of [
    QueueCommandIDs.remove,
    QueueCommandIDs.interruptAndContinue
  ]) {
    palette?.addItem({ command, category: trans.__('Sidecar') });
  }
}

/**
 * Whether the notebook shows a cell as running or waiting (`[*]`).
 */
function hasPendingCell(panel: NotebookPanel | null): boolean {
  return (
    panel?.content.widgets.some(
      cell =>
        cell instanceof CodeCell && cell.model.executionState === 'running'
    ) ?? false
  );
}

function addInterruptAndContinue(
  app: JupyterFrontEnd,
  sidecar: ISidecar,
  tracker: INotebookTracker,
  trans: TranslationBundle
): void {
  const current = (): NotebookPanel | null => tracker.currentWidget;
  app.commands.addCommand(QueueCommandIDs.interruptAndContinue, {
    label: trans.__('Interrupt Running Cell and Continue'),
    caption: trans.__(
      'Interrupt the running cell; the cells waiting behind it still run'
    ),
    isEnabled: () => !!kernelIdOf(current()) && hasPendingCell(current()),
    execute: async () => {
      const kernelId = kernelIdOf(current());
      if (!kernelId) {
        return;
      }
      try {
        return await sidecar.requests.interruptQueue(kernelId, true);
      } catch (error) {
        Notification.error(
          trans.__(
            'Could not interrupt the running cell: %1',
            errorMessage(error)
          ),
          { autoClose: 5000 }
        );
      }
    }
  });
  // The Kernel menu and the context menu read isEnabled as they open; the
  // palette and toolbars follow commandChanged.
  const changed = (): void =>
    app.commands.notifyCommandChanged(QueueCommandIDs.interruptAndContinue);
  tracker.currentChanged.connect(changed);
  tracker.activeCellChanged.connect(changed);
}

export default queuePlugin;
