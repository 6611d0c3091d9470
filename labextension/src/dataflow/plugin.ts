/**
 * Dataflow in the notebook: cells whose output may be out of date carry a
 * marker in their prompt area (stale: a name they used was redefined later,
 * or they were edited since they ran; hidden state: they read a name no cell
 * of the notebook defines any more), with a tooltip naming the cause.
 * Commands "Run Cell and What It Needs" and "Run Cell and What Depends on
 * It" ask the server for a plan and run it as JupyterLab runs cells; reactive
 * mode (schema/dataflow.json, off by default) makes every run also run its
 * dependents. On only when the server offers "dataflow".
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, ISessionContextDialogs } from '@jupyterlab/apputils';
import { CodeCell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';

import { runDependentsIcon, runNeedsIcon } from '../icons';
import { ISidecar } from '../tokens';
import { loadBundle } from '../translation';
import { NotebookDataflow } from './notebook';
import { PlanRunner } from './runner';
import type { PlanDirection } from './types';

/**
 * ID of the plugin; its settings schema is `schema/dataflow.json`.
 */
export const DATAFLOW_PLUGIN_ID = 'jupyter-sidecar-ext:dataflow';

export namespace DataflowCommandIDs {
  /**
   * Run the cells the active cell needs (missing or stale), then the cell.
   */
  export const runNeeds = 'sidecar:run-cell-and-needs';
  /**
   * Run the active cell, then every cell below depending on it.
   */
  export const runDependents = 'sidecar:run-cell-and-dependents';
}

const dataflowPlugin: JupyterFrontEndPlugin<void> = {
  id: DATAFLOW_PLUGIN_ID,
  description:
    'Marks stale cells and cells reading hidden state; runs what a cell needs or what depends on it.',
  autoStart: true,
  requires: [ISidecar, INotebookTracker],
  optional: [
    ISettingRegistry,
    ICommandPalette,
    ISessionContextDialogs,
    ITranslator
  ],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecar,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    dialogs: ISessionContextDialogs | null,
    translator: ITranslator | null
  ): void => {
    void sidecar.ready.then(() => {
      if (sidecar.hasFeature('dataflow')) {
        activateDataflow(app, sidecar, tracker, registry, palette, {
          dialogs,
          translator
        });
      }
    });
  }
};

function activateDataflow(
  app: JupyterFrontEnd,
  sidecar: ISidecar,
  tracker: INotebookTracker,
  registry: ISettingRegistry | null,
  palette: ICommandPalette | null,
  options: {
    dialogs: ISessionContextDialogs | null;
    translator: ITranslator | null;
  }
): void {
  const trans = loadBundle(options.translator);
  const runner = new PlanRunner({ sidecar, tracker, trans, ...options });

  const follow = (panel: NotebookPanel): void => {
    new NotebookDataflow(panel, sidecar, trans); // disposed with the panel
  };
  // Notebooks may have opened before the server said it offers dataflow.
  tracker.forEach(follow);
  tracker.widgetAdded.connect((_, panel) => follow(panel));

  const activeCodeCell = (): [NotebookPanel, CodeCell] | null => {
    const panel = tracker.currentWidget;
    const cell = panel?.content.activeCell;
    return panel && cell instanceof CodeCell ? [panel, cell] : null;
  };
  const addRun = (
    id: string,
    direction: PlanDirection,
    label: string,
    caption: string
  ): void => {
    app.commands.addCommand(id, {
      label,
      caption,
      icon: direction === 'upstream' ? runNeedsIcon : runDependentsIcon,
      isEnabled: () => activeCodeCell() !== null,
      execute: async () => {
        const active = activeCodeCell();
        return active ? runner.run(active[0], active[1], direction) : null;
      }
    });
    palette?.addItem({ command: id, category: trans.__('Sidecar') });
  };
  addRun(
    DataflowCommandIDs.runNeeds,
    'upstream',
    trans.__('Run Cell and What It Needs'),
    trans.__(
      'Run the cells that define what this cell uses and are missing or stale, then this cell'
    )
  );
  addRun(
    DataflowCommandIDs.runDependents,
    'downstream',
    trans.__('Run Cell and What Depends on It'),
    trans.__('Run this cell, then every cell below that uses what it defines')
  );
  // Toolbar buttons of notebooks already open were made before these commands
  // existed: have them render again.
  app.commands.notifyCommandChanged();
  const changed = (): void => {
    app.commands.notifyCommandChanged(DataflowCommandIDs.runNeeds);
    app.commands.notifyCommandChanged(DataflowCommandIDs.runDependents);
  };
  tracker.currentChanged.connect(changed);
  tracker.activeCellChanged.connect(changed);

  void loadReactive(registry, reactive => (runner.reactive = reactive));
}

/**
 * Follow the reactive mode setting (off when the settings cannot be read).
 */
async function loadReactive(
  registry: ISettingRegistry | null,
  apply: (reactive: boolean) => void
): Promise<void> {
  if (!registry) {
    return;
  }
  try {
    const settings = await registry.load(DATAFLOW_PLUGIN_ID);
    const read = (): void => apply(settings.composite.reactive === true);
    settings.changed.connect(read);
    read();
  } catch (reason) {
    console.warn(
      'jupyter-sidecar-ext: cannot load the dataflow settings',
      reason
    );
  }
}

export default dataflowPlugin;
