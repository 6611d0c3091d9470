/**
 * Formatting with the server's `POST api/sidecar/lint` (isort then black):
 * the request, the settings it is sent with, and the smallest edit that turns
 * a cell's old source into the formatted one.
 */

import type { ISettingRegistry } from '@jupyterlab/settingregistry';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { requestAPI } from './request';

/**
 * ID of the formatting plugin; its settings schema is `schema/lint.json`.
 */
export const LINT_PLUGIN_ID = 'jupyter-sidecar-ext:lint';

/**
 * A formatter the server runs, in the order given.
 */
export type LintTool = 'isort' | 'black';

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
}

/**
 * Default values of {@link ILintSettings}, matching the schema defaults.
 */
export const DEFAULT_LINT_SETTINGS: ILintSettings = {
  tools: ['isort', 'black'],
  blackOptions: {},
  isortOptions: {},
  formatOnSave: false
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
 * One cell as the server formatted it.
 */
export interface ILintedCell {
  id: string;
  /**
   * The formatted source (the sent one when `changed` is false or on error).
   */
  source: string;
  changed: boolean;
  /**
   * Why this cell could not be formatted (the others were formatted anyway).
   */
  error?: string;
}

/**
 * Body of `POST api/sidecar/lint`.
 */
export interface ILintRequest {
  cells: Array<{ id: string; source: string }>;
  /**
   * The notebook or file the cells belong to: the server reads the black and
   * isort configuration nearest to it.
   */
  path?: string;
  tools?: LintTool[];
  options?: {
    black?: ReadonlyPartialJSONObject;
    isort?: ReadonlyPartialJSONObject;
  };
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
 * Format cells on the server. Throws the server's or the network's error;
 * errors of single cells are in their `error` field instead.
 */
export async function lintCells(request: ILintRequest): Promise<ILintedCell[]> {
  const reply = await requestAPI<{ cells: ILintedCell[] }>('lint', {
    method: 'POST',
    body: JSON.stringify(request)
  });
  if (!reply || !Array.isArray(reply.cells)) {
    throw new Error('the server sent no cells back');
  }
  if (reply.cells.length !== request.cells.length) {
    throw new Error(
      `the server sent ${reply.cells.length} cells back ` +
        `for ${request.cells.length}`
    );
  }
  return reply.cells;
}

/**
 * Start the server's formatter processes now, so that the first format the
 * user asks for does not wait for them (an empty request does that).
 */
export async function warmUpLint(settings: ILintSettings): Promise<void> {
  await lintCells(lintRequest([], null, settings));
}

/**
 * The replacement of `before[start:end]` by `value` that gives `after`.
 */
export interface ITextEdit {
  start: number;
  end: number;
  value: string;
}

/**
 * The smallest single replacement turning `before` into `after`: the common
 * prefix and suffix stay, so the cursor and selections there stay too.
 * Never splits a UTF-16 surrogate pair.
 */
export function minimalEdit(before: string, after: string): ITextEdit | null {
  if (before === after) {
    return null;
  }
  const limit = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < limit && before[prefix] === after[prefix]) {
    prefix++;
  }
  if (prefix > 0 && isHighSurrogate(before.charCodeAt(prefix - 1))) {
    prefix--;
  }
  let suffix = 0;
  while (
    suffix < limit - prefix &&
    before[before.length - 1 - suffix] === after[after.length - 1 - suffix]
  ) {
    suffix++;
  }
  if (suffix > 0 && isLowSurrogate(before.charCodeAt(before.length - suffix))) {
    suffix--;
  }
  return {
    start: prefix,
    end: before.length - suffix,
    value: after.slice(prefix, after.length - suffix)
  };
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}

/**
 * What formatting needs of a cell's or a file's shared model.
 */
export interface IEditableSource {
  getSource(): string;
  updateSource(start: number, end: number, value?: string): void;
  /**
   * The Yjs undo manager that records edits of this text, if any.
   */
  readonly undoManager?: { stopCapturing(): void } | null;
}

/**
 * Replace a shared text's source by `after` with the smallest edit, as one
 * undo step of its own (typing just before does not merge into it).
 *
 * @returns whether the source changed.
 */
export function applyFormatted(
  shared: IEditableSource,
  after: string
): boolean {
  const edit = minimalEdit(shared.getSource(), after);
  if (!edit) {
    return false;
  }
  const undo = shared.undoManager;
  undo?.stopCapturing();
  // updateSource inserts then deletes in one transaction: one undo step.
  shared.updateSource(edit.start, edit.end, edit.value);
  undo?.stopCapturing();
  return true;
}
