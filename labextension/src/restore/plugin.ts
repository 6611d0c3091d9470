/**
 * The output restoring plugin: puts back into notebooks what the server
 * recorded while no page was watching, follows executions started by an
 * earlier page, and offers outputs recorded by earlier kernels. On only when
 * the server records executions and serves its record ("record", "notebook").
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';

import { ISidecar, PLUGIN_ID } from '../tokens';
import { DEFAULT_DESKTOP_SETTINGS, IDesktopSettings } from './away';
import { DesktopNotifier } from './desktop';
import { RestoreManager } from './manager';

/**
 * ID of the plugin; it follows the settings of the main plugin ({@link PLUGIN_ID}).
 */
export const RESTORE_PLUGIN_ID = 'jupyter-sidecar-ext:restore';

/**
 * User settings of output restoring (`schema/plugin.json`).
 */
export interface IRestoreSettings extends IDesktopSettings {
  /**
   * Fill in outputs recorded by the server while no browser was watching.
   */
  restoreOutputs: boolean;
  /**
   * Say what ran while no page of a notebook's kernel was connected.
   */
  awaySummary: boolean;
}

/**
 * Default values of {@link IRestoreSettings}, matching the schema defaults.
 */
export const DEFAULT_RESTORE_SETTINGS: IRestoreSettings = {
  restoreOutputs: true,
  awaySummary: true,
  ...DEFAULT_DESKTOP_SETTINGS
};

/**
 * The settings of restoring, followed live (`apply` is called on changes).
 */
async function followRestoreSettings(
  registry: ISettingRegistry | null,
  apply: (value: IRestoreSettings) => void
): Promise<IRestoreSettings> {
  if (!registry) {
    return DEFAULT_RESTORE_SETTINGS;
  }
  try {
    const settings = await registry.load(PLUGIN_ID);
    const read = (): IRestoreSettings => ({
      ...DEFAULT_RESTORE_SETTINGS,
      ...(settings.composite as Partial<IRestoreSettings>)
    });
    settings.changed.connect(() => apply(read()));
    return read();
  } catch (reason) {
    console.warn('jupyter-sidecar-ext: cannot load the settings', reason);
    return DEFAULT_RESTORE_SETTINGS;
  }
}

/**
 * localStorage, when the browser lets the page use it.
 */
function localStorageOrNull(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null;
  }
}

const restorePlugin: JupyterFrontEndPlugin<void> = {
  id: RESTORE_PLUGIN_ID,
  description:
    'Restores notebook outputs recorded server-side by jupyter_sidecar_ext.',
  autoStart: true,
  requires: [ISidecar, INotebookTracker],
  optional: [ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecar,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    void sidecar.ready.then(async () => {
      if (!sidecar.hasFeature('record') || !sidecar.hasFeature('notebook')) {
        return;
      }
      // Notebooks are followed once the setting is known, so that a disabled
      // restore never runs, even briefly.
      let manager: RestoreManager | null = null;
      const activate = (panel: NotebookPanel): void =>
        app.shell.activateById(panel.id);
      const desktop = new DesktopNotifier({
        tracker,
        activate,
        translator: translator ?? undefined
      });
      const settings = await followRestoreSettings(registry, value => {
        desktop.settings = value;
        if (manager) {
          manager.enabled = value.restoreOutputs;
          manager.awaySummary = value.awaySummary;
        }
      });
      desktop.settings = settings;
      const restore = new RestoreManager({
        enabled: settings.restoreOutputs,
        sharedDocuments: sidecar.hasFeature('shared_documents'),
        requests: sidecar.requests,
        translator: translator ?? undefined,
        activate,
        awaySummary: settings.awaySummary,
        storage: localStorageOrNull()
      });
      manager = restore;
      sidecar.executionFinished.connect((_, event) => desktop.handle(event));
      tracker.forEach(panel => restore.add(panel));
      tracker.widgetAdded.connect((_, panel) => restore.add(panel));
      sidecar.cellChanged.connect((_, event) =>
        restore.handleCellChanged(event)
      );
    });
  }
};

export default restorePlugin;
