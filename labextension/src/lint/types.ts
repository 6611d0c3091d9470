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
