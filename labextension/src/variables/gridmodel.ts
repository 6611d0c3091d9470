/**
 * PagedDataModel: a @lumino/datagrid DataModel over `GET .../rows` of one
 * DataFrame, Series or 2-D array. Rows are fetched a page at a time as the
 * grid paints them (a {@link RowPageCache} keeps a bounded number of pages),
 * so a frame of a million rows is never loaded whole. Two header rows: the
 * column names (with the sort arrow) and their dtypes; the row header is
 * the frame's index. Sorting is done by the server.
 */

import { DataModel } from '@lumino/datagrid';
import { ISignal, Signal } from '@lumino/signaling';

import { errorMessage } from '../utils';
import { RowPageCache } from './pagecache';
import type { IDataColumn, IRowsPage, IRowsQuery } from './types';

/**
 * Rows asked per request.
 */
export const ROWS_PAGE_SIZE = 100;

/**
 * Pages kept per grid (rows of the pages scrolled past are dropped).
 */
const MAX_PAGES = 50;

interface IGridRow {
  index: string;
  cells: string[];
}

export interface IGridState {
  state: 'loading' | 'loaded' | 'error';
  error: string | null;
  totalRows: number | null;
  columns: IDataColumn[];
  sort: string | null;
  ascending: boolean;
}

export class PagedDataModel extends DataModel {
  constructor(options: PagedDataModel.IOptions) {
    super();
    this._fetchRows = options.fetch;
    this._cache = new RowPageCache<IGridRow>({
      pageSize: options.pageSize ?? ROWS_PAGE_SIZE,
      maxPages: MAX_PAGES,
      fetch: (offset, limit) => this._fetchPage(offset, limit),
      onLoaded: (offset, count) => this._onLoaded(offset, count),
      onError: reason => this._setError(errorMessage(reason))
    });
  }

  /**
   * Emitted when the loading state, size, columns or sort change.
   */
  get stateChanged(): ISignal<this, IGridState> {
    return this._stateChanged;
  }

  get state(): IGridState {
    return {
      state:
        this._error !== null ? 'error' : this._loaded ? 'loaded' : 'loading',
      error: this._error,
      totalRows: this._loaded ? this._totalRows : null,
      columns: this._columns,
      sort: this._sort,
      ascending: this._ascending
    };
  }

  rowCount(region: DataModel.RowRegion): number {
    return region === 'body' ? this._totalRows : 2;
  }

  columnCount(region: DataModel.ColumnRegion): number {
    return region === 'body' ? this._columns.length : 1;
  }

  data(region: DataModel.CellRegion, row: number, column: number): string {
    switch (region) {
      case 'body':
        return this._cache.row(row)?.cells[column] ?? '';
      case 'row-header':
        return this._cache.row(row)?.index ?? '';
      case 'column-header': {
        const info = this._columns[column];
        if (!info) {
          return '';
        }
        if (row === 1) {
          return info.dtype;
        }
        const arrow =
          info.name === this._sort ? (this._ascending ? ' ▲' : ' ▼') : '';
        return `${info.name}${arrow}`;
      }
      case 'corner-header':
        return '';
    }
  }

  /**
   * Read the table again from the first page (new execution, refresh):
   * cached rows are dropped, size and columns taken from the answer.
   */
  async reload(): Promise<void> {
    this._cache.clear();
    this._error = null;
    this._loaded = false;
    this._emitState();
    await this._cache.load(0);
  }

  /**
   * Sort by a column (the same column again reverses the order), server-side.
   */
  async sortBy(column: number): Promise<void> {
    const name = this._columns[column]?.name;
    if (name === undefined) {
      return;
    }
    this._ascending = name === this._sort ? !this._ascending : true;
    this._sort = name;
    this.emitChanged({
      type: 'cells-changed',
      region: 'column-header',
      row: 0,
      column: 0,
      rowSpan: 1,
      columnSpan: this._columns.length
    });
    await this.reload();
  }

  private async _fetchPage(
    offset: number,
    limit: number
  ): Promise<{ offset: number; rows: IGridRow[] }> {
    const query: IRowsQuery = { offset, limit };
    if (this._sort !== null) {
      query.sort = this._sort;
      query.ascending = this._ascending;
    }
    const page = await this._fetchRows(query);
    this._adopt(page);
    const rows = (page.rows ?? []).map((cells, i) => ({
      index: formatIndex(page.index?.[i]),
      cells: cells.map(cell => String(cell ?? ''))
    }));
    return { offset: page.offset ?? offset, rows };
  }

  /**
   * Take size and columns from an answer; a change resets the grid.
   */
  private _adopt(page: IRowsPage): void {
    const columns = Array.isArray(page.columns) ? page.columns : [];
    const total = typeof page.total_rows === 'number' ? page.total_rows : 0;
    const reshaped =
      total !== this._totalRows ||
      columns.length !== this._columns.length ||
      columns.some(
        (c, i) =>
          c.name !== this._columns[i].name || c.dtype !== this._columns[i].dtype
      );
    this._totalRows = total;
    this._columns = columns;
    const first = !this._loaded;
    this._loaded = true;
    this._error = null;
    if (reshaped) {
      this.emitChanged({ type: 'model-reset' });
    }
    if (reshaped || first) {
      this._emitState();
    }
  }

  private _onLoaded(offset: number, count: number): void {
    if (count === 0) {
      return;
    }
    for (const region of ['body', 'row-header'] as const) {
      this.emitChanged({
        type: 'cells-changed',
        region,
        row: offset,
        column: 0,
        rowSpan: count,
        columnSpan: this.columnCount(region === 'body' ? 'body' : 'row-header')
      });
    }
  }

  private _setError(message: string): void {
    this._error = message;
    this._emitState();
  }

  private _emitState(): void {
    this._stateChanged.emit(this.state);
  }

  private _fetchRows: (query: IRowsQuery) => Promise<IRowsPage>;
  private _cache: RowPageCache<IGridRow>;
  private _columns: IDataColumn[] = [];
  private _totalRows = 0;
  private _loaded = false;
  private _error: string | null = null;
  private _sort: string | null = null;
  private _ascending = true;
  private _stateChanged = new Signal<this, IGridState>(this);
}

/**
 * An index label as text: strings as they are, tuples (MultiIndex) and
 * others as JSON.
 */
function formatIndex(label: unknown): string {
  if (label === undefined || label === null) {
    return '';
  }
  return typeof label === 'string' ? label : JSON.stringify(label);
}

export namespace PagedDataModel {
  export interface IOptions {
    fetch: (query: IRowsQuery) => Promise<IRowsPage>;
    pageSize?: number;
  }
}
