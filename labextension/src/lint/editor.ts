/**
 * Diagnostics in a cell's CodeMirror 6 editor, through `@codemirror/lint`:
 * the range underlined, a marker in a lint gutter, and on hover the message
 * with its rule code and a "Fix" button where ruff has a safe fix. The
 * editor maps the marks through edits until the next check replaces them.
 */

import {
  Diagnostic as EditorDiagnostic,
  lintGutter,
  setDiagnostics
} from '@codemirror/lint';
import { StateEffect } from '@codemirror/state';
import type { EditorView } from '@codemirror/view';
import type { TranslationBundle } from '@jupyterlab/translation';

import { diagnosticRange, lineStarts } from './diagnostics';
import type { IDiagnostic } from './types';

/**
 * Class of the marks of sidecar diagnostics (beside `cm-lintRange`).
 */
export const DIAGNOSTIC_MARK_CLASS = 'jp-Sidecar-diagnostic';

/**
 * Show `diagnostics`, computed on `text`, in `view`, replacing the ones it
 * showed. Does nothing (false) when the editor's text is no longer `text`:
 * the next check will bring fresh ones.
 */
export function showDiagnostics(
  view: EditorView,
  text: string,
  diagnostics: readonly IDiagnostic[],
  options: {
    fix: (diagnostic: IDiagnostic) => void;
    trans: TranslationBundle;
    /**
     * Editors that have the lint gutter already: it is added with the first
     * diagnostics an editor shows, so never-checked cells keep their width.
     */
    withGutter: WeakSet<EditorView>;
  }
): boolean {
  if (view.state.doc.toString() !== text) {
    return false;
  }
  const starts = lineStarts(text);
  const shown: EditorDiagnostic[] = diagnostics.map(diagnostic => {
    const { from, to } = diagnosticRange(text, diagnostic, starts);
    const fix = diagnostic.fix;
    return {
      from,
      to,
      severity: diagnostic.severity,
      message: `${diagnostic.code} ${diagnostic.message}`,
      markClass: DIAGNOSTIC_MARK_CLASS,
      actions: fix
        ? [
            {
              name: options.trans.__('Fix'),
              apply: () => options.fix(diagnostic)
            }
          ]
        : undefined
    };
  });
  const spec = setDiagnostics(view.state, shown);
  if (shown.length > 0 && !options.withGutter.has(view)) {
    options.withGutter.add(view);
    const effects = spec.effects
      ? Array.isArray(spec.effects)
        ? spec.effects
        : [spec.effects]
      : [];
    view.dispatch({
      ...spec,
      effects: [...effects, StateEffect.appendConfig.of(lintGutter())]
    });
  } else {
    view.dispatch(spec);
  }
  return true;
}
