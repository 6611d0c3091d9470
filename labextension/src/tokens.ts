/**
 * Interfaces shared by the plugins of jupyter-sidecar-ext.
 *
 * The REST shapes mirror the server extension's contract
 * (`{base_url}api/sidecar/...`, see the project's ARCHITECTURE.md).
 */

/**
 * Namespace of the server extension's REST API, relative to the base URL.
 */
export const API_NAMESPACE = 'api/sidecar';

/**
 * ID of the main plugin; its settings schema is `schema/plugin.json`.
 */
export const PLUGIN_ID = 'jupyter-sidecar-ext:plugin';

/**
 * Readiness marker: `document.body.dataset.sidecarExt` (the HTML attribute
 * `data-sidecar-ext`) is set to this value once the main plugin has activated
 * and its first call to the server extension has settled, successfully or not.
 * UI tests wait for `body[data-sidecar-ext="active"]`.
 */
export const READY_MARKER = 'active';

/**
 * Reply of `GET api/sidecar`.
 */
export interface IServerInfo {
  /**
   * Version of the Python package `jupyter_sidecar_ext`.
   */
  version: string;
  /**
   * Features the server extension offers (e.g. recording, variables, lint).
   */
  features: string[];
}

/**
 * User settings of the extension (`schema/plugin.json`).
 */
export interface ISidecarSettings {
  /**
   * Fill in outputs recorded by the server while no browser was watching.
   */
  restoreOutputs: boolean;
}

/**
 * Default values of {@link ISidecarSettings}, matching the schema defaults.
 */
export const DEFAULT_SETTINGS: ISidecarSettings = {
  restoreOutputs: true
};
