/**
 * The "Variables" sidebar: the variables of the active notebook's kernel, as
 * the server's sidecar lists them after each execution, read from its cache.
 * Opening the panel, reloading the page or switching notebooks never runs
 * anything in the kernel. On only when the server offers it ("variables").
 */

import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, MainAreaWidget } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator } from '@jupyterlab/translation';
import { copyIcon, tableRowsIcon } from '@jupyterlab/ui-components';

import { variableIcon } from '../icons';
import { ISidecar } from '../tokens';
import { loadBundle } from '../translation';
import { DataViewer } from './dataview';
import { VariablesModel } from './model';
import { VariablesPanel } from './panel';
import { QuietRefresh } from './quiet';
import { isTabular, VariableTree } from './tree';
import { VariableView } from './view';

/**
 * ID of the plugin; its settings schema is `schema/variables.json`.
 */
export const VARIABLES_PLUGIN_ID = 'jupyter-sidecar-ext:variables';

/**
 * ID of the sidebar panel (also its layout restorer key).
 */
export const VARIABLES_PANEL_ID = 'sidecar-variables';

export namespace VariablesCommandIDs {
  export const show = 'sidecar:show-variables';
  /**
   * Args: `name` (the variable), `kernelId` (the followed kernel's by default).
   */
  export const open = 'sidecar:open-variable';
  /**
   * Args as `open`: a DataFrame, Series or 2-D array in the Data Viewer.
   */
  export const openData = 'sidecar:open-data-viewer';
  /**
   * Copy the value of the row selected in the Variables panel.
   */
  export const copyValue = 'sidecar:copy-variable-value';
}

/**
 * Put a view in the main area; Notebook 7's notebook page keeps its main
 * area for the notebook, so there the view goes to the bottom panel.
 */
/**
 * Open Data Viewers read their rows again once their kernel started nothing
 * for this long after the server listed its variables anew.
 */
const VIEWER_QUIET_MS = 400;

function addToMain(app: JupyterFrontEnd, widget: MainAreaWidget): void {
  app.shell.add(widget, 'main', { mode: 'split-right' });
  if (!widget.isAttached) {
    app.shell.add(widget, 'down');
  }
}

/**
 * Keeps the model on the kernel of the tracker's current notebook.
 */
function followCurrentNotebook(
  tracker: INotebookTracker,
  model: VariablesModel
): void {
  let followed: NotebookPanel | null = null;
  const onKernelChanged = (): void =>
    model.setKernel(followed?.sessionContext.session?.kernel ?? null);
  const follow = (panel: NotebookPanel | null): void => {
    followed?.sessionContext.kernelChanged.disconnect(onKernelChanged);
    followed = panel;
    panel?.sessionContext.kernelChanged.connect(onKernelChanged);
    onKernelChanged();
  };
  tracker.currentChanged.connect((_, panel) => follow(panel));
  follow(tracker.currentWidget);
}

const variablesPlugin: JupyterFrontEndPlugin<void> = {
  id: VARIABLES_PLUGIN_ID,
  description:
    "A sidebar listing the variables of the active notebook's kernel, from the server's cache.",
  autoStart: true,
  requires: [ISidecar, INotebookTracker, IRenderMimeRegistry],
  optional: [ILayoutRestorer, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecar,
    tracker: INotebookTracker,
    rendermime: IRenderMimeRegistry,
    restorer: ILayoutRestorer | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    void sidecar.ready.then(() => {
      if (sidecar.hasFeature('variables')) {
        activateVariables(app, sidecar, tracker, rendermime, {
          restorer,
          palette,
          translator
        });
      }
    });
  }
};

function activateVariables(
  app: JupyterFrontEnd,
  sidecar: ISidecar,
  tracker: INotebookTracker,
  rendermime: IRenderMimeRegistry,
  optional: {
    restorer: ILayoutRestorer | null;
    palette: ICommandPalette | null;
    translator: ITranslator | null;
  }
): void {
  const { restorer, palette, translator } = optional;
  const trans = loadBundle(translator);
  const model = new VariablesModel({ requests: sidecar.requests });
  const tree = new VariableTree({ requests: sidecar.requests });
  const panel = new VariablesPanel({
    model,
    tree,
    translator: translator ?? undefined
  });
  panel.id = VARIABLES_PANEL_ID;
  panel.title.icon = variableIcon;
  panel.title.caption = trans.__('Variables');
  panel.title.label = '';
  panel.node.setAttribute('aria-label', trans.__('Variables'));
  app.shell.add(panel, 'right', { rank: 600 });
  restorer?.add(panel, VARIABLES_PANEL_ID);

  followCurrentNotebook(tracker, model);
  const viewers = new Map<string, DataViewer>();
  const viewersOf = (kernelId: string): DataViewer[] =>
    Array.from(viewers.values()).filter(v => v.kernelId === kernelId);
  const reread = new QuietRefresh(VIEWER_QUIET_MS, kernelId =>
    viewersOf(kernelId).forEach(viewer => void viewer.refresh())
  );
  sidecar.variablesUpdated.connect((_, event) => {
    model.handleVariablesUpdated(event);
    if (viewersOf(event.kernel_id).length) {
      reread.updated(event.kernel_id);
    }
  });
  // The kernel runs code: open viewers of its variables are out of date
  // until the server lists the variables again (variables_updated above).
  model.executionStarted.connect((_, kernelId) => {
    viewersOf(kernelId).forEach(viewer => viewer.markStale());
    reread.started(kernelId);
  });

  const views = new Map<string, VariableView>();
  const run = (command: string, args: { name: string }): void => {
    app.commands
      .execute(command, args)
      .catch(reason => console.warn('jupyter-sidecar-ext:', reason));
  };
  panel.opened.connect((_, name) => run(VariablesCommandIDs.open, { name }));
  panel.dataViewerRequested.connect((_, name) =>
    run(VariablesCommandIDs.openData, { name })
  );
  /**
   * The variable a command is about: its `name` argument, else the one of
   * the row selected in the panel.
   */
  const target = (args: Record<string, unknown>) => {
    const name =
      typeof args.name === 'string' ? args.name : panel.selectedRow?.name;
    const kernelId =
      typeof args.kernelId === 'string' ? args.kernelId : model.kernelId;
    return name && kernelId ? { name, kernelId } : null;
  };

  app.commands.addCommand(VariablesCommandIDs.show, {
    label: trans.__('Show Variables'),
    caption: trans.__("Show the variables of the active notebook's kernel"),
    icon: variableIcon,
    execute: () => app.shell.activateById(panel.id)
  });
  app.commands.addCommand(VariablesCommandIDs.open, {
    label: args => trans.__('Open Variable %1', String(args.name ?? '')).trim(),
    caption: trans.__("Show a variable's rich view"),
    icon: variableIcon,
    execute: args => {
      const found = target(args);
      if (!found) {
        return;
      }
      const { name, kernelId } = found;
      const id = VariableView.idFor(kernelId, name);
      let view = views.get(id);
      if (view && !view.isDisposed) {
        void view.refresh();
      } else {
        view = new VariableView({
          kernelId,
          name,
          rendermime,
          requests: sidecar.requests,
          translator: translator ?? undefined
        });
        views.set(id, view);
        view.disposed.connect(() => views.delete(id));
        addToMain(app, view);
      }
      app.shell.activateById(view.id);
    }
  });
  app.commands.addCommand(VariablesCommandIDs.openData, {
    label: trans.__('Open in Data Viewer'),
    caption: trans.__(
      'Page through the rows of a DataFrame, Series or array, sorted by any column'
    ),
    icon: tableRowsIcon,
    isVisible: args => {
      const row = panel.selectedRow;
      return (
        typeof args.name === 'string' ||
        (row?.kind === 'variable' && row.variable !== null && isTabular(row))
      );
    },
    execute: args => {
      const found = target(args);
      if (!found) {
        return;
      }
      const { name, kernelId } = found;
      const id = DataViewer.idFor(kernelId, name);
      let viewer = viewers.get(id);
      if (viewer && !viewer.isDisposed) {
        void viewer.refresh();
      } else {
        viewer = new DataViewer({
          kernelId,
          name,
          requests: sidecar.requests,
          translator: translator ?? undefined
        });
        viewers.set(id, viewer);
        viewer.disposed.connect(() => viewers.delete(id));
        addToMain(app, viewer);
      }
      app.shell.activateById(viewer.id);
    }
  });
  app.commands.addCommand(VariablesCommandIDs.copyValue, {
    label: trans.__('Copy Value'),
    caption: trans.__('Copy the value of the selected variable'),
    icon: copyIcon,
    isEnabled: () => {
      const kind = panel.selectedRow?.kind;
      return kind === 'variable' || kind === 'child';
    },
    execute: () => panel.copySelectedValue()
  });
  const rows = `#${VARIABLES_PANEL_ID} tbody tr[aria-selected]`;
  app.contextMenu.addItem({
    command: VariablesCommandIDs.copyValue,
    selector: rows,
    rank: 1
  });
  app.contextMenu.addItem({
    command: VariablesCommandIDs.openData,
    selector: `#${VARIABLES_PANEL_ID} tbody tr[data-name]`,
    rank: 2
  });
  palette?.addItem({
    command: VariablesCommandIDs.show,
    category: trans.__('Sidecar')
  });
}

export default variablesPlugin;
