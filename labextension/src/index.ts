/**
 * jupyter-sidecar-ext: JupyterLab side of the jupyter_sidecar_ext server
 * extension. The main plugin provides {@link ISidecar}; each feature plugin
 * requires it and turns itself on only if the server offers its feature.
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';

import dataflowPlugin from './dataflow/plugin';
import holdPlugin from './hold/plugin';
import lintPlugin from './lint/plugin';
import queuePlugin from './queue/plugin';
import { SidecarRequests } from './requests';
import restorePlugin from './restore/plugin';
import { Sidecar } from './sidecar';
import { ISidecar, PLUGIN_ID } from './tokens';
import variablesPlugin from './variables/plugin';

/**
 * Main plugin: the server extension's info, event stream and REST client.
 *
 * Activation does not wait for the server: `ISidecar.ready` settles in the
 * background, so the start of JupyterLab is never delayed.
 */
const sidecarPlugin: JupyterFrontEndPlugin<ISidecar> = {
  id: PLUGIN_ID,
  description:
    'Connects JupyterLab to the jupyter_sidecar_ext server extension.',
  autoStart: true,
  provides: ISidecar,
  activate: (app: JupyterFrontEnd): ISidecar =>
    new Sidecar({
      events: app.serviceManager.events.stream,
      requests: new SidecarRequests(app.serviceManager.serverSettings)
    })
};

export { ISidecar } from './tokens';

export default [
  sidecarPlugin,
  restorePlugin,
  variablesPlugin,
  lintPlugin,
  queuePlugin,
  holdPlugin,
  dataflowPlugin
];
