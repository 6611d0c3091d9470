/**
 * VariablesPanel: the sidebar view of a {@link VariablesModel}: a status line
 * (busy, stale, unavailable, no kernel), a filter box and a sortable table.
 *
 * Plain DOM, rebuilt from the model on each change (a snapshot holds at most
 * the server's `variables_max_count` rows). Its state is on data attributes
 * (`data-state`, `data-busy`/`data-stale` on the panel, `data-name` on rows,
 * `aria-sort` on the sorted header) that the stylesheet styles.
 */

import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { loadBundle } from '../translation';
import { formatBytes, formatShape } from './format';
import type { VariablesModel } from './model';
import type { IVariable, SortColumn } from './types';

const PANEL_CLASS = 'jp-SidecarVariables';
const COLUMNS: SortColumn[] = ['name', 'type', 'shape', 'size', 'value'];

export class VariablesPanel extends Widget {
  constructor(options: VariablesPanel.IOptions) {
    super();
    this.model = options.model;
    this._trans = loadBundle(options.translator);
    this.addClass(PANEL_CLASS);
    const header = document.createElement('div');
    header.className = `${PANEL_CLASS}-header`;
    header.textContent = this._trans.__('Variables');
    this._scroll.className = `${PANEL_CLASS}-scroll`;
    this._scroll.append(this._table);
    this.node.append(header, this._status, this._filterBox, this._scroll);
    this._status.className = `${PANEL_CLASS}-status`;
    this._status.setAttribute('role', 'status');
    this._filterBox.className = `${PANEL_CLASS}-filter jp-mod-styled`;
    this._filterBox.type = 'search';
    this._filterBox.placeholder = this._trans.__('Filter by name or type');
    this._filterBox.setAttribute('aria-label', this._filterBox.placeholder);
    this._table.className = `${PANEL_CLASS}-table`;
    this._table.append(this._head(), this._body);
    this.model.changed.connect(this._render, this);
    this.model.paused = true; // until shown: no requests for a closed panel
    this._render();
  }

  readonly model: VariablesModel;

  /**
   * Emitted with a variable's name when its row is clicked (or Enter pressed).
   */
  get opened(): ISignal<this, string> {
    return this._opened;
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case 'input':
        this.model.filter = this._filterBox.value;
        break;
      case 'click':
        this._onClick(event as MouseEvent);
        break;
      case 'keydown':
        if ((event as KeyboardEvent).key === 'Enter') {
          this._onClick(event);
        }
        break;
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._render, this);
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._filterBox.addEventListener('input', this);
    this.node.addEventListener('click', this);
    this.node.addEventListener('keydown', this);
    this.model.paused = !this.isVisible;
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.paused = false;
  }

  protected onAfterHide(msg: Message): void {
    this.model.paused = true;
    super.onAfterHide(msg);
  }

  protected onBeforeDetach(msg: Message): void {
    this._filterBox.removeEventListener('input', this);
    this.node.removeEventListener('click', this);
    this.node.removeEventListener('keydown', this);
    this.model.paused = true;
    super.onBeforeDetach(msg);
  }

  private _onClick(event: Event): void {
    const target = event.target as HTMLElement;
    const header = target.closest<HTMLElement>('th[data-column]');
    if (header) {
      this.model.sortBy(header.dataset.column as SortColumn);
      return;
    }
    const row = target.closest<HTMLElement>('tr[data-name]');
    if (row?.dataset.name) {
      this._opened.emit(row.dataset.name);
    }
  }

  private _head(): HTMLTableSectionElement {
    const labels: Record<SortColumn, string> = {
      name: this._trans.__('Name'),
      type: this._trans.__('Type'),
      shape: this._trans.__('Shape'),
      size: this._trans.__('Size'),
      value: this._trans.__('Value')
    };
    const head = document.createElement('thead');
    const row = head.insertRow();
    for (const column of COLUMNS) {
      const cell = document.createElement('th');
      cell.dataset.column = column;
      cell.tabIndex = 0;
      cell.title = this._trans.__('Sort by %1', labels[column]);
      cell.textContent = labels[column];
      row.append(cell);
    }
    return head;
  }

  private _render(): void {
    const model = this.model;
    const state = model.state;
    this.node.dataset.state = state;
    this.node.dataset.busy = String(model.busy);
    this.node.dataset.stale = String(model.stale);
    this._renderStatus();
    for (const header of this._table.tHead?.rows[0]?.cells ?? []) {
      const sorted = header.dataset.column === model.sort.column;
      if (sorted) {
        header.setAttribute(
          'aria-sort',
          model.sort.ascending ? 'ascending' : 'descending'
        );
      } else {
        header.removeAttribute('aria-sort');
      }
    }
    const showTable = state === 'ok' || state === 'pending';
    this._scroll.hidden = !showTable;
    this._filterBox.hidden = !showTable;
    this._body.replaceChildren(
      ...(showTable ? model.rows.map(row => this._row(row)) : [])
    );
  }

  private _renderStatus(): void {
    const model = this.model;
    const trans = this._trans;
    const parts: HTMLElement[] = [];
    const badge = (kind: string, text: string, title = ''): void => {
      const node = document.createElement('span');
      node.className = `${PANEL_CLASS}-badge ${PANEL_CLASS}-${kind}`;
      node.textContent = text;
      node.title = title;
      parts.push(node);
    };
    const message = (text: string): void => {
      const node = document.createElement('span');
      node.className = `${PANEL_CLASS}-message`;
      node.textContent = text;
      parts.push(node);
    };
    const snapshot = model.snapshot;
    switch (model.state) {
      case 'no-kernel':
        message(trans.__('No kernel: open a notebook with a running kernel.'));
        break;
      case 'loading':
        message(trans.__('Loading variables…'));
        break;
      case 'error':
        message(trans.__('Cannot read variables: %1', model.error ?? ''));
        break;
      case 'unavailable':
        message(
          trans.__(
            'Variables are unavailable: %1',
            snapshot?.reason || trans.__('the kernel cannot list them.')
          )
        );
        break;
      case 'pending':
        message(trans.__('Waiting for the kernel to list its variables…'));
        break;
      case 'ok': {
        const shown = snapshot?.variables.length ?? 0;
        const total = snapshot?.count ?? shown;
        message(
          total > shown
            ? trans.__('%1 of %2 variables', shown, total)
            : trans._n('%1 variable', '%1 variables', shown)
        );
        break;
      }
    }
    if (model.busy) {
      badge('busy', trans.__('busy'), trans.__('The kernel is running code.'));
    }
    if (model.stale) {
      badge(
        'stale',
        trans.__('stale'),
        snapshot?.reason ||
          trans.__('The kernel ran code since these values were listed.')
      );
    }
    this._status.replaceChildren(...parts);
  }

  private _row(variable: IVariable): HTMLTableRowElement {
    const row = document.createElement('tr');
    row.dataset.name = variable.name;
    row.tabIndex = 0;
    row.title = this._trans.__('Open the rich view of %1', variable.name);
    const cells: Record<SortColumn, string> = {
      name: variable.name,
      type: variable.type,
      shape: formatShape(variable.shape),
      size: formatBytes(variable.size),
      value: variable.value
    };
    for (const column of COLUMNS) {
      const cell = row.insertCell();
      cell.dataset.column = column;
      cell.textContent = cells[column];
      if (column === 'value') {
        cell.title = variable.value;
      }
    }
    return row;
  }

  private _trans: TranslationBundle;
  private _status = document.createElement('div');
  private _filterBox = document.createElement('input');
  private _scroll = document.createElement('div');
  private _table = document.createElement('table');
  private _body = document.createElement('tbody');
  private _opened = new Signal<this, string>(this);
}

export namespace VariablesPanel {
  export interface IOptions {
    model: VariablesModel;
    translator?: ITranslator;
  }
}
