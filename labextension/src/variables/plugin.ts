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
import { ICommandPalette } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ITranslator } from '@jupyterlab/translation';

import { variableIcon } from '../icons';
import { ISidecar } from '../tokens';
import { loadBundle } from '../translation';
import { VariablesModel } from './model';
import { VariablesPanel } from './panel';
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
  const panel = new VariablesPanel({
    model,
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
  sidecar.variablesUpdated.connect((_, event) =>
    model.handleVariablesUpdated(event.kernel_id)
  );

  const views = new Map<string, VariableView>();
  panel.opened.connect((_, name) => {
    app.commands
      .execute(VariablesCommandIDs.open, { name })
      .catch(reason => console.warn('jupyter-sidecar-ext:', reason));
  });

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
      const name = typeof args.name === 'string' ? args.name : '';
      const kernelId =
        typeof args.kernelId === 'string' ? args.kernelId : model.kernelId;
      if (!name || !kernelId) {
        return;
      }
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
        app.shell.add(view, 'main', { mode: 'split-right' });
      }
      app.shell.activateById(view.id);
    }
  });
  palette?.addItem({
    command: VariablesCommandIDs.show,
    category: trans.__('Sidecar')
  });
}

export default variablesPlugin;
