/**
 * AwayNotifier: tells a page what ran while no page of its kernel was
 * connected, once per run per browser, as a JupyterLab notification with a
 * "Go to cell" action; and goToCell, shared with desktop notifications.
 */

import { Notification } from '@jupyterlab/apputils';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { ITranslator } from '@jupyterlab/translation';

import { loadBundle } from '../translation';
import { remember } from '../utils';
import {
  summarize,
  summaryText,
  SummaryTranslation,
  unannounced
} from './away';
import type { IShadowCell } from './types';

/**
 * Runs remembered as announced in this browser (bounded).
 */
const MAX_ANNOUNCED = 2000;

/**
 * localStorage key of the announced runs: a reload or a second page of the
 * same browser does not announce them again.
 */
const STORAGE_KEY = 'jupyter-sidecar-ext:away-announced';

/**
 * The msg_ids of runs already announced, kept in localStorage when it is
 * usable (else for this page only).
 */
export class AnnouncedRuns {
  constructor(storage: Storage | null) {
    this._storage = storage;
  }

  /**
   * The runs announced so far (read again each time: other pages add to it).
   */
  read(): Set<string> {
    try {
      const stored = JSON.parse(this._storage?.getItem(STORAGE_KEY) ?? '[]');
      if (Array.isArray(stored)) {
        for (const msgId of stored) {
          if (typeof msgId === 'string' && !this._memory.has(msgId)) {
            remember(this._memory, msgId, MAX_ANNOUNCED);
          }
        }
      }
    } catch {
      // unreadable storage: this page's memory only
    }
    return new Set(this._memory);
  }

  add(msgIds: readonly string[]): void {
    const known = this.read();
    for (const msgId of msgIds) {
      remember(known, msgId, MAX_ANNOUNCED);
      remember(this._memory, msgId, MAX_ANNOUNCED);
    }
    try {
      this._storage?.setItem(STORAGE_KEY, JSON.stringify([...known]));
    } catch {
      // full or disabled storage: this page's memory only
    }
  }

  private _storage: Storage | null;
  private _memory = new Set<string>();
}

/**
 * Show a notebook panel and select and scroll to one of its cells (by id).
 */
export function goToCell(
  panel: NotebookPanel,
  cellId: string,
  activate: (panel: NotebookPanel) => void
): void {
  if (panel.isDisposed) {
    return;
  }
  activate(panel);
  const notebook = panel.content;
  const index = notebook.widgets.findIndex(cell => cell.model.id === cellId);
  if (index < 0) {
    return;
  }
  notebook.deselectAll();
  notebook.activeCellIndex = index;
  void notebook.scrollToCell(notebook.widgets[index], 'center');
}

export class AwayNotifier {
  constructor(options: AwayNotifier.IOptions) {
    this._panel = options.panel;
    this._announced = options.announced;
    this._activate = options.activate;
    this._trans = loadBundle(options.translator);
  }

  /**
   * The kernel's record as a synchronisation read it: announce the runs that
   * ended with no page connected and were not announced yet, in one notification.
   */
  announce(cells: readonly IShadowCell[]): void {
    const summary = summarize(unannounced(cells, this._announced.read()));
    if (!summary) {
      return;
    }
    this._announced.add(summary.msgIds);
    const trans = this._trans;
    const name = this._panel.context.localPath.split('/').pop() ?? '';
    const message = trans.__(
      'While you were away, in %1: %2',
      name,
      summaryText(summary, trans)
    );
    const show = summary.failures.length
      ? Notification.warning
      : Notification.info;
    show(message, {
      autoClose: false,
      actions: [
        {
          label: trans.__('Go to cell'),
          caption: summary.failures.length
            ? trans.__('Show the first cell that failed')
            : trans.__('Show the last cell that finished'),
          displayType: 'accent',
          callback: () =>
            goToCell(this._panel, summary.targetCellId, this._activate)
        }
      ]
    });
  }

  private _panel: NotebookPanel;
  private _announced: AnnouncedRuns;
  private _activate: (panel: NotebookPanel) => void;
  private _trans: SummaryTranslation;
}

export namespace AwayNotifier {
  export interface IOptions {
    panel: NotebookPanel;
    announced: AnnouncedRuns;
    /**
     * Bring the panel to the front (the shell's `activateById`).
     */
    activate: (panel: NotebookPanel) => void;
    translator?: ITranslator;
  }
}
