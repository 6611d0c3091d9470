/**
 * The formatting plugin's settings (`schema/lint.json`) and the request to
 * `POST api/sidecar/lint` they shape. Pure: no JupyterLab runtime imports.
 */

import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import type { ILintRequest, LintTool } from './types';

/**
 * User settings of the formatting plugin (`schema/lint.json`).
 */
export interface ILintSettings {
  /**
   * Formatters to run, in order.
   */
  tools: LintTool[];
  /**
   * black options over the notebook's pyproject.toml (e.g. `line-length`).
   */
  blackOptions: ReadonlyPartialJSONObject;
  /**
   * isort options over the notebook's isort configuration (e.g. `profile`).
   */
  isortOptions: ReadonlyPartialJSONObject;
  /**
   * Format on save: the save shortcut formats and then saves once; a toolbar
   * or menu save is followed by a format and, if it changed anything, a
   * second save; autosave never formats.
   */
  formatOnSave: boolean;
  /**
   * Check the notebook with ruff (Check Notebook) each time it is saved.
   */
  checkOnSave: boolean;
  /**
   * Once a notebook was checked, check it again after each pause in editing.
   */
  checkOnEdit: boolean;
  /**
   * The pause in editing (ms) after which a checked notebook is checked again.
   */
  checkDelay: number;
}

/**
 * Default values of {@link ILintSettings}, matching the schema defaults.
 */
export const DEFAULT_LINT_SETTINGS: ILintSettings = {
  tools: ['isort', 'black'],
  blackOptions: {},
  isortOptions: {},
  formatOnSave: false,
  checkOnSave: false,
  checkOnEdit: true,
  checkDelay: 800
};

/**
 * The settings of a loaded plugin, with the defaults for what is missing.
 */
export function readLintSettings(
  settings: ISettingRegistry.ISettings | null
): ILintSettings {
  const composite = (settings?.composite ?? {}) as Partial<ILintSettings>;
  return { ...DEFAULT_LINT_SETTINGS, ...composite };
}

/**
 * The request for `cells` of the file at `path`, with the user's settings.
 */
export function lintRequest(
  cells: Array<{ id: string; source: string }>,
  path: string | null,
  settings: ILintSettings
): ILintRequest {
  const request: ILintRequest = { cells, tools: [...settings.tools] };
  if (path) {
    request.path = path;
  }
  const options: ILintRequest['options'] = {};
  if (Object.keys(settings.blackOptions).length > 0) {
    options.black = settings.blackOptions;
  }
  if (Object.keys(settings.isortOptions).length > 0) {
    options.isort = settings.isortOptions;
  }
  if (options.black || options.isort) {
    request.options = options;
  }
  return request;
}

/**
 * The request that checks `cells` of the notebook at `path` with ruff
 * (formatting tools and options do not apply).
 */
export function checkRequest(
  cells: Array<{ id: string; source: string }>,
  path: string | null
): ILintRequest {
  return path ? { cells, path, check: true } : { cells, check: true };
}
