import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';

import { RestoreManager } from './manager';
import { requestAPI } from './request';
import {
  DEFAULT_SETTINGS,
  IServerInfo,
  ISidecarSettings,
  PLUGIN_ID,
  READY_MARKER,
  RESTORE_PLUGIN_ID
} from './tokens';
import variablesPlugin from './variables';
import queuePlugin from './queue';
import { lintPlugin } from './lint-commands';

/**
 * Set the readiness marker (see {@link READY_MARKER}).
 */
function markReady(): void {
  document.body.dataset.sidecarExt = READY_MARKER;
}

/**
 * Ask the server extension who it is and log the answer.
 */
async function probeServer(): Promise<IServerInfo | null> {
  try {
    const info = await requestAPI<IServerInfo>();
    const features = Array.isArray(info.features)
      ? info.features.join(', ')
      : JSON.stringify(info.features);
    console.log(
      `jupyter-sidecar-ext: server sidecar ${info.version} (${features})`
    );
    return info;
  } catch (reason) {
    console.warn(
      'jupyter-sidecar-ext: the server extension jupyter_sidecar_ext did not answer.',
      reason
    );
    return null;
  }
}

/**
 * Main plugin: checks that the server extension answers.
 *
 * Activation does not wait for the server: the probe runs in the background
 * so that it never delays the start of JupyterLab.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'Connects JupyterLab to the jupyter_sidecar_ext server extension.',
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => {
    void probeServer().finally(markReady);
  }
};

/**
 * The `restoreOutputs` setting of the main plugin, followed live.
 */
async function followRestoreSetting(
  registry: ISettingRegistry | null,
  apply: (value: boolean) => void
): Promise<boolean> {
  if (!registry) {
    return DEFAULT_SETTINGS.restoreOutputs;
  }
  try {
    const settings = await registry.load(PLUGIN_ID);
    const read = (): boolean =>
      (settings.composite as Partial<ISidecarSettings>).restoreOutputs ??
      DEFAULT_SETTINGS.restoreOutputs;
    settings.changed.connect(() => apply(read()));
    return read();
  } catch (reason) {
    console.warn('jupyter-sidecar-ext: cannot load the settings', reason);
    return DEFAULT_SETTINGS.restoreOutputs;
  }
}

/**
 * Output restoring: puts back into notebooks what the server recorded while
 * no page was watching, follows executions started by an earlier page, and
 * offers outputs recorded by earlier kernels.
 */
const restorePlugin: JupyterFrontEndPlugin<void> = {
  id: RESTORE_PLUGIN_ID,
  description:
    'Restores notebook outputs recorded server-side by jupyter_sidecar_ext.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    registry: ISettingRegistry | null,
    translator: ITranslator | null
  ): void => {
    // Notebooks are followed once the setting is known, so that a disabled
    // restore never runs, even briefly.
    let manager: RestoreManager | null = null;
    void followRestoreSetting(registry, value => {
      if (manager) {
        manager.enabled = value;
      }
    }).then(enabled => {
      const restore = new RestoreManager({
        enabled,
        translator: translator ?? undefined
      });
      manager = restore;
      tracker.forEach(panel => restore.add(panel));
      tracker.widgetAdded.connect((_, panel) => restore.add(panel));
      app.serviceManager.events.stream.connect((_, emission) =>
        restore.handleEvent(emission)
      );
    });
  }
};

export default [
  plugin,
  restorePlugin,
  variablesPlugin,
  lintPlugin,
  queuePlugin
];
