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
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';

import { ISidecar, PLUGIN_ID } from '../tokens';
import { RestoreManager } from './manager';

/**
 * ID of the plugin; it follows the settings of the main plugin ({@link PLUGIN_ID}).
 */
export const RESTORE_PLUGIN_ID = 'jupyter-sidecar-ext:restore';

/**
 * User settings of output restoring (`schema/plugin.json`).
 */
export interface IRestoreSettings {
  /**
   * Fill in outputs recorded by the server while no browser was watching.
   */
  restoreOutputs: boolean;
}

/**
 * Default values of {@link IRestoreSettings}, matching the schema defaults.
 */
export const DEFAULT_RESTORE_SETTINGS: IRestoreSettings = {
  restoreOutputs: true
};

/**
 * The `restoreOutputs` setting, followed live.
 */
async function followRestoreSetting(
  registry: ISettingRegistry | null,
  apply: (value: boolean) => void
): Promise<boolean> {
  if (!registry) {
    return DEFAULT_RESTORE_SETTINGS.restoreOutputs;
  }
  try {
    const settings = await registry.load(PLUGIN_ID);
    const read = (): boolean =>
      (settings.composite as Partial<IRestoreSettings>).restoreOutputs ??
      DEFAULT_RESTORE_SETTINGS.restoreOutputs;
    settings.changed.connect(() => apply(read()));
    return read();
  } catch (reason) {
    console.warn('jupyter-sidecar-ext: cannot load the settings', reason);
    return DEFAULT_RESTORE_SETTINGS.restoreOutputs;
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
      const enabled = await followRestoreSetting(registry, value => {
        if (manager) {
          manager.enabled = value;
        }
      });
      const restore = new RestoreManager({
        enabled,
        sharedDocuments: sidecar.hasFeature('shared_documents'),
        requests: sidecar.requests,
        translator: translator ?? undefined
      });
      manager = restore;
      tracker.forEach(panel => restore.add(panel));
      tracker.widgetAdded.connect((_, panel) => restore.add(panel));
      sidecar.cellChanged.connect((_, event) =>
        restore.handleCellChanged(event)
      );
    });
  }
};

export default restorePlugin;
