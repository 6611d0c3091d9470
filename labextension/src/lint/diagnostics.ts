/**
 * The pure side of diagnostics: the server's 1-based cell positions as
 * offsets in the editor's text, fixes as text edits, and the request counter
 * that drops stale answers. No JupyterLab imports.
 */

import type { ITextEdit } from './edit';
import type { ICellPosition, IDiagnostic, IFix } from './types';

/**
 * What ends a line for ruff and for CodeMirror alike.
 */
const LINE_BREAK = /\r\n?|\n/;

/**
 * Offsets (UTF-16, as in JavaScript strings and CodeMirror) where the lines
 * of `text` start; the first is 0.
 */
export function lineStarts(text: string): number[] {
  const starts = [0];
  const breaks = new RegExp(LINE_BREAK.source, 'g');
  for (let match = breaks.exec(text); match; match = breaks.exec(text)) {
    starts.push(match.index + match[0].length);
  }
  return starts;
}

/**
 * The offset of a 1-based cell position in `text`. Columns count code
 * points (as Python and ruff do), so a character outside the BMP before the
 * position moves it by two UTF-16 units. Positions past a line's end stop at
 * it; lines past the last one at the text's end.
 */
export function toOffset(
  text: string,
  position: ICellPosition,
  starts: readonly number[] = lineStarts(text)
): number {
  if (position.line > starts.length) {
    return text.length;
  }
  const index = Math.max(position.line, 1) - 1;
  const start = starts[index];
  const end = lineEnd(text, starts, index);
  let offset = start;
  for (let column = 1; column < position.column && offset < end; column++) {
    offset += isHighSurrogate(text.charCodeAt(offset)) ? 2 : 1;
  }
  return Math.min(offset, end);
}

/**
 * Where a diagnostic is in `text`: `from <= to`, both within the text.
 */
export function diagnosticRange(
  text: string,
  diagnostic: IDiagnostic,
  starts: readonly number[] = lineStarts(text)
): { from: number; to: number } {
  const from = toOffset(
    text,
    { line: diagnostic.line, column: diagnostic.column },
    starts
  );
  const to = toOffset(
    text,
    { line: diagnostic.end_line, column: diagnostic.end_column },
    starts
  );
  return { from, to: Math.max(from, to) };
}

/**
 * The edits of `fixes` in `text`, last first (so that applying them in this
 * order never moves the next one). A fix with an edit that overlaps, or
 * starts where, an edit already taken starts is left out whole, as the
 * server's `apply_fixes` does.
 */
export function fixEdits(text: string, fixes: readonly IFix[]): ITextEdit[] {
  const starts = lineStarts(text);
  const taken: ITextEdit[] = [];
  for (const fix of fixes) {
    const edits = fix.edits.map(edit => {
      const start = toOffset(text, edit.location, starts);
      const end = toOffset(text, edit.end_location, starts);
      return { start, end: Math.max(start, end), value: edit.content };
    });
    const clashes = edits.some(edit =>
      taken.some(
        other =>
          (edit.start < other.end && other.start < edit.end) ||
          edit.start === other.start
      )
    );
    if (!clashes) {
      taken.push(...edits);
    }
  }
  return taken.sort((a, b) => b.start - a.start || b.end - a.end);
}

/**
 * `text` with `edits` applied, taken in the order given (see {@link fixEdits}).
 */
export function applyEdits(text: string, edits: readonly ITextEdit[]): string {
  return edits.reduce(
    (result, edit) =>
      result.slice(0, edit.start) + edit.value + result.slice(edit.end),
    text
  );
}

/**
 * Numbers the requests of one notebook so that only the answer to the latest
 * one is used: a check started before an edit must not paint diagnostics
 * over the edited text after the next check answered.
 */
export class RequestGenerations {
  /**
   * Start a request: its generation.
   */
  next(): number {
    return ++this._current;
  }

  /**
   * Whether no request started after the one of `generation`.
   */
  isLatest(generation: number): boolean {
    return generation === this._current;
  }

  /**
   * Make every request started so far stale (the notebook closed, checking
   * was turned off...).
   */
  invalidate(): void {
    this._current++;
  }

  private _current = 0;
}

/**
 * Counts of diagnostics by severity, for the notebook's toolbar.
 */
export interface IDiagnosticCounts {
  errors: number;
  warnings: number;
  fixable: number;
}

export function countDiagnostics(
  cells: Iterable<readonly IDiagnostic[]>
): IDiagnosticCounts {
  const counts: IDiagnosticCounts = { errors: 0, warnings: 0, fixable: 0 };
  for (const diagnostics of cells) {
    for (const diagnostic of diagnostics) {
      if (diagnostic.severity === 'error') {
        counts.errors++;
      } else {
        counts.warnings++;
      }
      if (diagnostic.fix) {
        counts.fixable++;
      }
    }
  }
  return counts;
}

function lineEnd(text: string, starts: readonly number[], index: number) {
  if (index + 1 >= starts.length) {
    return text.length;
  }
  const next = starts[index + 1];
  return text[next - 2] === '\r' && text[next - 1] === '\n'
    ? next - 2
    : next - 1;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
