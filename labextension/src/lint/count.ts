/**
 * DiagnosticCount: the notebook toolbar's "Check" button, which then shows
 * how many problems the latest check found ("2 problems", "No problems",
 * "Checking…"); a click checks the notebook again.
 */

import type { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { NotebookChecker } from './checker';
import type { IDiagnosticCounts } from './diagnostics';

/**
 * Class of the toolbar item.
 */
export const DIAGNOSTIC_COUNT_CLASS = 'jp-Sidecar-diagnosticCount';

export class DiagnosticCount extends Widget {
  constructor(options: { checker: NotebookChecker; trans: TranslationBundle }) {
    super({ node: document.createElement('div') });
    this.addClass(DIAGNOSTIC_COUNT_CLASS);
    this._checker = options.checker;
    this._trans = options.trans;
    this._button = document.createElement('button');
    this._button.type = 'button';
    this._button.className = 'jp-ToolbarButtonComponent jp-mod-minimal';
    this._button.addEventListener('click', this._onClick);
    this.node.appendChild(this._button);
    this._checker.changed.connect(this._render, this);
    this._render();
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._button.removeEventListener('click', this._onClick);
    this._checker.changed.disconnect(this._render, this);
    super.dispose();
  }

  private _render(): void {
    const trans = this._trans;
    const counts = this._checker.counts;
    const error = this._checker.error;
    let label: string;
    if (this._checker.checking && !counts) {
      label = trans.__('Checking…');
    } else if (error !== null) {
      label = trans.__('Check failed');
    } else if (!counts) {
      label = trans.__('Check');
    } else {
      const total = counts.errors + counts.warnings;
      label =
        total === 0
          ? trans.__('No problems')
          : trans._n('%1 problem', '%1 problems', total);
    }
    this._button.textContent = label;
    this._button.title = describe(counts, error, trans);
    this.toggleClass('jp-mod-problems', (counts?.errors ?? 0) > 0);
    this.toggleClass(
      'jp-mod-warnings',
      (counts?.errors ?? 0) === 0 && (counts?.warnings ?? 0) > 0
    );
  }

  private _onClick = (): void => {
    void this._checker.check(false);
  };

  private _button: HTMLButtonElement;
  private _checker: NotebookChecker;
  private _trans: TranslationBundle;
}

function describe(
  counts: IDiagnosticCounts | null,
  error: string | null,
  trans: TranslationBundle
): string {
  if (error !== null) {
    return trans.__('Checking failed: %1. Click to check again.', error);
  }
  if (!counts) {
    return trans.__('Check the notebook with ruff');
  }
  return trans.__(
    '%1 errors, %2 warnings, %3 fixable. Click to check again.',
    counts.errors,
    counts.warnings,
    counts.fixable
  );
}
