import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import { requestAPI } from './request';
import { IServerInfo, PLUGIN_ID, READY_MARKER } from './tokens';

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

export default [plugin];
