/**
 * VariablesPanel: the sidebar view of a {@link VariablesModel}: a status line
 * (busy, stale, unavailable, no kernel), a filter box and a sortable,
 * resizable table whose rows expand into their children
 * ({@link VariableTree}).
 *
 * Plain DOM. The status line and the table are written at most once a frame
 * (the next one: Lumino's update request), and only when what they show
 * changed; the table (rebuilt, then its columns fitted, which reads layout)
 * only when its rows did. A kernel's busy/idle, its execution count and a
 * snapshot that kept its rows (`rows_version`) change the status alone, and
 * its busy and stale badges show only once they held for a moment
 * ({@link DelayedBadge}), so a quick cell that defines nothing changes
 * nothing on screen, and no write is ever made inside the kernel message
 * handlers that show the cell's result. Its state is on data and
 * ARIA attributes (`data-state`, `data-busy`/`data-stale` on the panel,
 * `data-name` on variable rows, `aria-expanded`/`aria-selected`/`aria-level`
 * on rows, `aria-sort` on the sorted header) that the stylesheet styles.
 *
 * Keyboard (on the table): arrows move the selection, Right/Left expand and
 * collapse, Enter opens a variable (or expands a child, or shows more),
 * Ctrl/Cmd+C copies the selected value.
 */

import { Clipboard } from '@jupyterlab/apputils';
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import type { Message } from '@lumino/messaging';
import { ISignal, Signal } from '@lumino/signaling';
import { Widget } from '@lumino/widgets';

import { loadBundle } from '../translation';
import { DelayedBadge } from './badge';
import { ColumnWidths, COLUMNS, draggedWidth, fitColumns } from './columns';
import type { VariablesModel } from './model';
import { nodeId } from './paths';
import {
  CHEVRON_WIDTH,
  cellTexts,
  INDENT,
  OPEN_DATA_WIDTH,
  PANEL_CLASS,
  renderRow,
  rowKey
} from './rowview';
import { isTabular, TreeRow, VariableTree } from './tree';
import type { IVariablesSnapshot, SortColumn } from './types';

/**
 * How long the kernel must stay busy, or the values stale, before the status
 * line says so (a quick cell changes nothing on screen).
 */
const BADGE_DELAY_MS = 300;

/**
 * Horizontal padding of a cell, and what a header adds (sort arrow, edge).
 */
const CELL_PADDING = 14;
const HEADER_EXTRA = 18;

export class VariablesPanel extends Widget {
  constructor(options: VariablesPanel.IOptions) {
    super();
    this.model = options.model;
    this.tree = options.tree;
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
    this._message.className = `${PANEL_CLASS}-message`;
    const badge = (kind: string, text: string): DelayedBadge => {
      const node = document.createElement('span');
      node.className = `${PANEL_CLASS}-badge ${PANEL_CLASS}-${kind}`;
      node.textContent = text;
      return new DelayedBadge(node, BADGE_DELAY_MS, () => {
        this._flagsDirty = true;
        this.update();
      });
    };
    this._busyBadge = badge('busy', this._trans.__('busy'));
    this._busyBadge.node.title = this._trans.__('The kernel is running code.');
    this._staleBadge = badge('stale', this._trans.__('stale'));
    this._status.append(
      this._message,
      this._busyBadge.node,
      this._staleBadge.node
    );
    this._filterBox.className = `${PANEL_CLASS}-filter jp-mod-styled`;
    this._filterBox.type = 'search';
    this._filterBox.placeholder = this._trans.__('Filter by name or type');
    this._filterBox.setAttribute('aria-label', this._filterBox.placeholder);
    this._table.className = `${PANEL_CLASS}-table`;
    this._table.setAttribute('role', 'treegrid');
    this._table.append(this._colgroup, this._head(), this._body);
    for (const column of COLUMNS) {
      const col = document.createElement('col');
      col.dataset.column = column;
      this._colgroup.append(col);
    }
    this.model.changed.connect(this._onModelChanged, this);
    this.tree.changed.connect(this._scheduleRows, this);
    this.model.paused = true; // until shown: no requests for a closed panel
    this._renderFlags();
    this._renderRows();
  }

  readonly model: VariablesModel;
  readonly tree: VariableTree;

  /**
   * Emitted with a variable's name when its row is clicked (or Enter pressed).
   */
  get opened(): ISignal<this, string> {
    return this._opened;
  }

  /**
   * Emitted with a variable's name when its Data Viewer button is clicked.
   */
  get dataViewerRequested(): ISignal<this, string> {
    return this._dataViewerRequested;
  }

  /**
   * The selected row (a variable or an item inside one), if any.
   */
  get selectedRow(): TreeRow | null {
    return this._rows.find(row => row.id === this._selectedId) ?? null;
  }

  /**
   * Copy the selected row's value (its preview, or its error) to the
   * system clipboard.
   */
  async copySelectedValue(): Promise<void> {
    const row = this.selectedRow;
    if (!row || (row.kind !== 'variable' && row.kind !== 'child')) {
      return;
    }
    const text = cellTexts(row).value;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      Clipboard.copyToSystem(text); // no permission: the copy event way
    }
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case 'input':
        this.model.filter = this._filterBox.value;
        break;
      case 'click':
        this._onClick(event as MouseEvent);
        break;
      case 'dblclick':
        this._onDoubleClick(event as MouseEvent);
        break;
      case 'contextmenu':
        this._selectAt(event.target as HTMLElement);
        break;
      case 'keydown':
        this._onKeyDown(event as KeyboardEvent);
        break;
      case 'pointerdown':
        this._onPointerDown(event as PointerEvent);
        break;
      case 'pointermove':
        this._onPointerMove(event as PointerEvent);
        break;
      case 'pointerup':
      case 'pointercancel':
        this._endDrag(event as PointerEvent);
        break;
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this.model.changed.disconnect(this._onModelChanged, this);
    this.tree.changed.disconnect(this._scheduleRows, this);
    this._busyBadge.dispose();
    this._staleBadge.dispose();
    Signal.clearData(this);
    super.dispose();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this._filterBox.addEventListener('input', this);
    for (const type of ['click', 'dblclick', 'contextmenu', 'keydown']) {
      this.node.addEventListener(type, this);
    }
    this._table.tHead?.addEventListener('pointerdown', this);
    this.model.paused = !this.isVisible;
    this._fit();
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    this.model.paused = false;
    this._renderFlags(); // not written while hidden
    this._fit();
  }

  protected onAfterHide(msg: Message): void {
    this.model.paused = true;
    super.onAfterHide(msg);
  }

  protected onResize(msg: Widget.ResizeMessage): void {
    super.onResize(msg);
    this._fit();
  }

  protected onBeforeDetach(msg: Message): void {
    this._filterBox.removeEventListener('input', this);
    for (const type of ['click', 'dblclick', 'contextmenu', 'keydown']) {
      this.node.removeEventListener(type, this);
    }
    this._table.tHead?.removeEventListener('pointerdown', this);
    this.model.paused = true;
    super.onBeforeDetach(msg);
  }

  protected onUpdateRequest(msg: Message): void {
    super.onUpdateRequest(msg);
    if (this._flagsDirty && this.isVisible) {
      this._renderFlags();
    }
    if (this._rowsDirty) {
      this._renderRows();
    }
  }

  /**
   * A new snapshot or kernel: the tree follows (reloading what is expanded,
   * which may have changed below an unchanged preview). The status is
   * written on the next frame; the table is rebuilt only when its rows or
   * what it shows of them changed.
   */
  private _onModelChanged(): void {
    const model = this.model;
    const snapshot = model.snapshot;
    const newRows = snapshot?.variables !== this._snapshot?.variables;
    if (this.tree.kernelId !== model.kernelId) {
      this.tree.setKernel(model.kernelId);
    } else if (snapshot !== this._snapshot && snapshot !== null) {
      void this.tree.reload(new Set(snapshot.variables.map(v => v.name)));
    }
    this._snapshot = snapshot;
    this._flagsDirty = true;
    this.update();
    const { column, ascending } = model.sort;
    const shown = [model.state, model.filter, column, String(ascending)];
    const key = shown.join('\u0000');
    if (key !== this._shownKey || newRows) {
      this._shownKey = key;
      this._scheduleRows();
    }
  }

  /**
   * Rebuild the table on the next frame (several changes in one frame: once).
   */
  private _scheduleRows(): void {
    this._rowsDirty = true;
    this.update();
  }

  private _rowOf(target: HTMLElement): TreeRow | null {
    const tr = target.closest<HTMLTableRowElement>('tbody tr');
    if (!tr || !this._body.contains(tr)) {
      return null;
    }
    return this._rows[tr.sectionRowIndex] ?? null;
  }

  private _selectAt(target: HTMLElement): TreeRow | null {
    const row = this._rowOf(target);
    if (row) {
      this._select(row, false);
    }
    return row;
  }

  private _onClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    if (target.closest(`.${PANEL_CLASS}-resizer`)) {
      return;
    }
    const header = target.closest<HTMLElement>('th[data-column]');
    if (header) {
      if (this._dragged) {
        this._dragged = false; // the click that ends a drag is no sort
        return;
      }
      this.model.sortBy(header.dataset.column as SortColumn);
      return;
    }
    const row = this._selectAt(target);
    if (!row) {
      return;
    }
    if (target.closest(`.${PANEL_CLASS}-openData`)) {
      this._dataViewerRequested.emit(row.name);
    } else if (target.closest(`.${PANEL_CLASS}-chevron`)) {
      this._toggle(row);
    } else if (row.kind === 'more') {
      void this.tree.loadMore(row.name, row.path);
    } else if (row.kind === 'variable') {
      this._opened.emit(row.name);
    }
  }

  private _onDoubleClick(event: MouseEvent): void {
    const target = event.target as HTMLElement;
    const row = this._rowOf(target);
    if (row?.kind === 'child' && !target.closest(`.${PANEL_CLASS}-chevron`)) {
      this._toggle(row);
    }
  }

  private _toggle(row: TreeRow): void {
    if ((row.kind === 'variable' || row.kind === 'child') && row.expandable) {
      this.tree.toggle(row.name, row.path);
    }
  }

  private _onKeyDown(event: KeyboardEvent): void {
    const target = event.target as HTMLElement;
    const header = target.closest<HTMLElement>('th[data-column]');
    if (header && event.key === 'Enter') {
      this.model.sortBy(header.dataset.column as SortColumn);
      return;
    }
    if (!this._body.contains(target)) {
      return;
    }
    const navigable = this._rows.filter(isNavigable);
    // The focused row (tabbed to or clicked) is the one keys act on.
    const row = this._rowOf(target) ?? this.selectedRow;
    if (row && row.id !== this._selectedId && isNavigable(row)) {
      this._select(row, false);
    }
    const at = row ? navigable.indexOf(row) : -1;
    const move = (index: number): void => {
      const next =
        navigable[Math.max(0, Math.min(navigable.length - 1, index))];
      if (next) {
        this._select(next, true);
      }
    };
    let handled = true;
    switch (event.key) {
      case 'ArrowDown':
        move(at + 1);
        break;
      case 'ArrowUp':
        move(at < 0 ? 0 : at - 1);
        break;
      case 'Home':
        move(0);
        break;
      case 'End':
        move(navigable.length - 1);
        break;
      case 'ArrowRight':
        if (row && isItem(row) && row.expandable && !row.expanded) {
          this._toggle(row);
        } else if (row && isItem(row) && row.expanded) {
          move(at + 1);
        }
        break;
      case 'ArrowLeft':
        if (row && isItem(row) && row.expanded) {
          this._toggle(row);
        } else if (row && row.depth > 0) {
          const parent = nodeId(
            row.name,
            row.kind === 'child' ? row.path.slice(0, -1) : row.path
          );
          const found = this._rows.find(r => r.id === parent);
          if (found) {
            this._select(found, true);
          }
        }
        break;
      case 'Enter':
        if (row?.kind === 'variable') {
          this._opened.emit(row.name);
        } else if (row?.kind === 'child') {
          this._toggle(row);
        } else if (row?.kind === 'more') {
          void this.tree.loadMore(row.name, row.path);
        }
        break;
      case 'c':
      case 'C':
        if ((event.ctrlKey || event.metaKey) && !hasTextSelection()) {
          void this.copySelectedValue();
        } else {
          handled = false;
        }
        break;
      default:
        handled = false;
    }
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }

  private _select(row: TreeRow, focus: boolean): void {
    this._selectedId = row.id;
    const index = this._rows.indexOf(row);
    Array.from(this._body.rows).forEach((tr, i) => {
      const selected = i === index;
      tr.setAttribute('aria-selected', String(selected));
      tr.tabIndex = selected ? 0 : -1;
      if (selected && focus) {
        tr.focus();
        tr.scrollIntoView({ block: 'nearest' });
      }
    });
  }

  private _head(): HTMLTableSectionElement {
    const labels: Record<SortColumn, string> = {
      name: this._trans.__('Name'),
      type: this._trans.__('Type'),
      shape: this._trans.__('Shape'),
      size: this._trans.__('Size'),
      value: this._trans.__('Value')
    };
    this._labels = labels;
    const head = document.createElement('thead');
    const row = head.insertRow();
    for (const column of COLUMNS) {
      const cell = document.createElement('th');
      cell.dataset.column = column;
      cell.tabIndex = 0;
      cell.title = this._trans.__(
        '%1: click to sort, drag the edge to resize',
        labels[column]
      );
      const label = document.createElement('span');
      label.className = `${PANEL_CLASS}-label`;
      label.textContent = labels[column];
      const resizer = document.createElement('span');
      resizer.className = `${PANEL_CLASS}-resizer`;
      resizer.title = this._trans.__('Drag to resize %1', labels[column]);
      cell.append(label, resizer);
      row.append(cell);
    }
    return head;
  }

  /**
   * The panel's state attributes and status line, where they changed (no
   * layout read).
   */
  private _renderFlags(): void {
    this._flagsDirty = false;
    const model = this.model;
    const flags = {
      state: model.state,
      busy: String(model.busy),
      stale: String(model.stale)
    };
    for (const [name, value] of Object.entries(flags)) {
      if (this.node.dataset[name] !== value) {
        this.node.dataset[name] = value;
      }
    }
    this._renderStatus();
  }

  private _renderRows(): void {
    this._rowsDirty = false;
    const model = this.model;
    const state = model.state;
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
    const hadFocus = this._body.contains(document.activeElement);
    this._rows = showTable ? this.tree.rows(model.rows) : [];
    if (!this._rows.some(row => row.id === this._selectedId)) {
      this._selectedId = null;
    }
    const keys = this._rows.map(row =>
      rowKey(row, row.id === this._selectedId)
    );
    if (
      keys.length === this._rowKeys.length &&
      keys.every((key, i) => key === this._rowKeys[i])
    ) {
      return; // a new snapshot with the same rows (a cell that changed nothing)
    }
    this._rowKeys = keys;
    const trs = this._rows.map(row =>
      renderRow(row, row.id === this._selectedId, this._trans)
    );
    if (this._selectedId === null && trs.length > 0) {
      trs[0].tabIndex = 0; // the table is reachable with Tab
    }
    this._body.replaceChildren(...trs);
    if (hadFocus) {
      trs.find(tr => tr.tabIndex === 0)?.focus();
    }
    this._fit();
  }

  /**
   * The status line: its message and badges are kept nodes whose text and
   * `hidden` change where what they say changed (a cell's busy/idle toggles
   * one badge: no nodes made, no translation looked up).
   */
  private _renderStatus(): void {
    const model = this.model;
    const snapshot = model.snapshot;
    const state = model.state;
    const reason = snapshot?.reason ?? '';
    const counts = [snapshot?.variables.length ?? 0, snapshot?.count ?? -1];
    const key = JSON.stringify([state, counts, model.error, reason]);
    if (key !== this._statusKey) {
      this._statusKey = key;
      this._message.textContent = this._statusMessage();
      this._staleBadge.node.title =
        reason ||
        this._trans.__('The kernel ran code since these values were listed.');
    }
    this._busyBadge.set(model.busy);
    this._staleBadge.set(model.stale);
  }

  private _statusMessage(): string {
    const model = this.model;
    const trans = this._trans;
    const snapshot = model.snapshot;
    switch (model.state) {
      case 'no-kernel':
        return trans.__('No kernel: open a notebook with a running kernel.');
      case 'loading':
        return trans.__('Loading variables…');
      case 'error':
        return trans.__('Cannot read variables: %1', model.error ?? '');
      case 'unavailable':
        return trans.__(
          'Variables are unavailable: %1',
          snapshot?.reason || trans.__('the kernel cannot list them.')
        );
      case 'pending':
        return trans.__('Waiting for the kernel to list its variables…');
      case 'ok': {
        const shown = snapshot?.variables.length ?? 0;
        const total = snapshot?.count ?? shown;
        return total > shown
          ? trans.__('%1 of %2 variables', shown, total)
          : trans._n('%1 variable', '%1 variables', shown);
      }
    }
  }

  /**
   * Set the columns' widths from their texts and the panel's width.
   */
  private _fit(): void {
    const available = this._scroll.clientWidth;
    if (!this.isAttached || available <= 0) {
      return;
    }
    const natural = this._naturalWidths();
    this._widths = fitColumns(natural, available, this._userWidths);
    this._applyWidths();
  }

  private _applyWidths(): void {
    const widths = this._widths;
    if (!widths) {
      return;
    }
    let total = 0;
    for (const col of Array.from(this._colgroup.children) as HTMLElement[]) {
      const width = widths[col.dataset.column as SortColumn];
      col.style.width = `${width}px`;
      total += width;
    }
    this._table.style.width = `${total}px`;
  }

  /**
   * What each column's longest text needs, measured in the fonts in use.
   */
  private _naturalWidths(): ColumnWidths {
    const canvas = (this._canvas ??= document.createElement('canvas'));
    const context = canvas.getContext('2d');
    const th = this._table.tHead?.rows[0]?.cells[0];
    const widths = {} as ColumnWidths;
    if (!context || !th) {
      COLUMNS.forEach(column => (widths[column] = 64));
      return widths;
    }
    context.font = getComputedStyle(th).font;
    for (const column of COLUMNS) {
      widths[column] =
        context.measureText(this._labels[column]).width +
        CELL_PADDING +
        HEADER_EXTRA;
    }
    context.font = getComputedStyle(this._table).font;
    for (const row of this._rows) {
      if (row.kind !== 'variable' && row.kind !== 'child') {
        continue;
      }
      const texts = cellTexts(row);
      for (const column of COLUMNS) {
        let width = context.measureText(texts[column]).width + CELL_PADDING;
        if (column === 'name') {
          width += row.depth * INDENT + CHEVRON_WIDTH;
          if (row.kind === 'variable' && isTabular(row)) {
            width += OPEN_DATA_WIDTH;
          }
        }
        widths[column] = Math.max(widths[column], width);
      }
    }
    for (const column of COLUMNS) {
      widths[column] = Math.ceil(widths[column]);
    }
    return widths;
  }

  private _onPointerDown(event: PointerEvent): void {
    this._dragged = false;
    const resizer = (event.target as HTMLElement).closest<HTMLElement>(
      `.${PANEL_CLASS}-resizer`
    );
    const column = resizer?.parentElement?.dataset.column as
      SortColumn | undefined;
    if (!resizer || !column || event.button !== 0 || !this._widths) {
      return;
    }
    event.preventDefault();
    event.stopPropagation();
    resizer.setPointerCapture(event.pointerId);
    this._drag = { column, startX: event.clientX, start: this._widths[column] };
    for (const type of ['pointermove', 'pointerup', 'pointercancel']) {
      resizer.addEventListener(type, this);
    }
    this.node.dataset.resizing = 'true';
  }

  private _onPointerMove(event: PointerEvent): void {
    const drag = this._drag;
    if (!drag || !this._widths) {
      return;
    }
    const width = draggedWidth(drag.start, event.clientX - drag.startX);
    this._userWidths[drag.column] = width;
    this._widths[drag.column] = width;
    this._dragged = true;
    this._applyWidths();
  }

  private _endDrag(event: PointerEvent): void {
    const resizer = event.target as HTMLElement;
    for (const type of ['pointermove', 'pointerup', 'pointercancel']) {
      resizer.removeEventListener(type, this);
    }
    if (resizer.hasPointerCapture(event.pointerId)) {
      resizer.releasePointerCapture(event.pointerId);
    }
    this._drag = null;
    delete this.node.dataset.resizing;
    this._fit(); // the value column takes up what is left
  }

  private _trans: TranslationBundle;
  private _labels = {} as Record<SortColumn, string>;
  private _status = document.createElement('div');
  private _message = document.createElement('span');
  private _busyBadge: DelayedBadge;
  private _staleBadge: DelayedBadge;
  private _filterBox = document.createElement('input');
  private _scroll = document.createElement('div');
  private _table = document.createElement('table');
  private _colgroup = document.createElement('colgroup');
  private _body = document.createElement('tbody');
  private _canvas: HTMLCanvasElement | null = null;
  private _rows: TreeRow[] = [];
  private _selectedId: string | null = null;
  private _snapshot: IVariablesSnapshot | null = null;
  // what the table was last scheduled for, and whether a rebuild is pending
  private _shownKey = '';
  private _rowsDirty = false;
  private _flagsDirty = false;
  private _statusKey = '';
  private _rowKeys: string[] = []; // of the rows in the table's DOM
  private _widths: ColumnWidths | null = null;
  private _userWidths: Partial<ColumnWidths> = {};
  private _drag: { column: SortColumn; startX: number; start: number } | null =
    null;
  private _dragged = false;
  private _opened = new Signal<this, string>(this);
  private _dataViewerRequested = new Signal<this, string>(this);
}

function isItem(
  row: TreeRow
): row is Extract<TreeRow, { kind: 'variable' | 'child' }> {
  return row.kind === 'variable' || row.kind === 'child';
}

function isNavigable(row: TreeRow): boolean {
  return isItem(row) || row.kind === 'more';
}

function hasTextSelection(): boolean {
  const selection = window.getSelection();
  return !!selection && !selection.isCollapsed;
}

export namespace VariablesPanel {
  export interface IOptions {
    model: VariablesModel;
    tree: VariableTree;
    translator?: ITranslator;
  }
}
