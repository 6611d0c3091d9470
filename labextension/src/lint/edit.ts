/**
 * The smallest edit that turns a cell's old source into the formatted one,
 * applied to a shared model so that the cursor stays and undo takes one step.
 * Pure: no JupyterLab imports.
 */

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
