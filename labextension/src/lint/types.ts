/**
 * Shapes of `POST api/sidecar/lint`.
 */

import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/**
 * A formatter the server runs, in the order given.
 */
export type LintTool = 'isort' | 'black';

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
  /**
   * With `check`: what ruff found in this cell.
   */
  diagnostics?: IDiagnostic[];
}

/**
 * A position within a cell, 1-based; columns count characters (code points).
 */
export interface ICellPosition {
  line: number;
  column: number;
}

/**
 * Replace the text from `location` up to `end_location` (excluded).
 */
export interface IFixEdit {
  content: string;
  location: ICellPosition;
  end_location: ICellPosition;
}

/**
 * ruff's safe fix of a diagnostic, as edits of the cell.
 */
export interface IFix {
  message: string;
  edits: IFixEdit[];
}

/**
 * A problem ruff found in a cell; positions within the cell, 1-based, end
 * excluded.
 */
export interface IDiagnostic {
  line: number;
  column: number;
  end_line: number;
  end_column: number;
  /**
   * ruff's rule code (F401...), `invalid-syntax` or `magic`.
   */
  code: string;
  message: string;
  severity: 'error' | 'warning';
  fix?: IFix | null;
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
  /**
   * Check with ruff instead of formatting: each cell gets `diagnostics`.
   */
  check?: boolean;
}
