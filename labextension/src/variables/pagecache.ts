/**
 * RowPageCache: rows of a large table fetched a page at a time, on demand,
 * with a bounded number of pages kept (least recently used go first). Pure:
 * the fetch is handed in, so the Data Viewer's grid and the tests share it.
 *
 * A row that is not there yet reads as `undefined` and asks for its page
 * once; `onLoaded` says when the page arrived so the grid repaints those
 * rows. `clear()` (new sort, new execution) drops pages and ignores answers
 * still on their way.
 */

export interface IRowPage<T> {
  /**
   * Index of the first row of the page.
   */
  offset: number;
  rows: T[];
}

export class RowPageCache<T> {
  constructor(options: RowPageCache.IOptions<T>) {
    this._fetch = options.fetch;
    this.pageSize = options.pageSize;
    this._maxPages = Math.max(1, options.maxPages);
    this._onLoaded = options.onLoaded;
    this._onError = options.onError;
  }

  readonly pageSize: number;

  /**
   * Pages held now (at most `maxPages`).
   */
  get pageCount(): number {
    return this._pages.size;
  }

  /**
   * Pages being fetched now.
   */
  get pendingCount(): number {
    return this._pending.size;
  }

  /**
   * The page a row falls in.
   */
  pageOf(row: number): number {
    return Math.floor(row / this.pageSize);
  }

  /**
   * A row if its page is here (now most recently used); otherwise undefined,
   * and its page is asked for (once).
   */
  row(index: number): T | undefined {
    const page = this.pageOf(index);
    const rows = this._pages.get(page);
    if (rows === undefined) {
      void this.load(page);
      return undefined;
    }
    this._pages.delete(page);
    this._pages.set(page, rows);
    return rows[index - page * this.pageSize];
  }

  /**
   * Fetch a page unless it is here or on its way.
   */
  async load(page: number): Promise<void> {
    if (page < 0 || this._pages.has(page) || this._pending.has(page)) {
      return;
    }
    const generation = this._generation;
    this._pending.add(page);
    let answer: IRowPage<T> | null = null;
    let failure: unknown = null;
    try {
      answer = await this._fetch(page * this.pageSize, this.pageSize);
    } catch (reason) {
      failure = reason;
    }
    if (generation !== this._generation) {
      return; // cleared meanwhile: the answer belongs to another order
    }
    this._pending.delete(page);
    if (answer === null) {
      this._onError?.(failure);
      return;
    }
    this._pages.set(page, answer.rows);
    for (const oldest of this._pages.keys()) {
      if (this._pages.size <= this._maxPages) {
        break;
      }
      this._pages.delete(oldest);
    }
    this._onLoaded?.(answer.offset, answer.rows.length);
  }

  /**
   * Forget every page and ignore the answers still on their way.
   */
  clear(): void {
    this._generation += 1;
    this._pages.clear();
    this._pending.clear();
  }

  private _fetch: RowPageCache.Fetch<T>;
  private _maxPages: number;
  private _onLoaded?: (offset: number, count: number) => void;
  private _onError?: (reason: unknown) => void;
  private _pages = new Map<number, T[]>();
  private _pending = new Set<number>();
  private _generation = 0;
}

export namespace RowPageCache {
  export type Fetch<T> = (
    offset: number,
    limit: number
  ) => Promise<IRowPage<T>>;

  export interface IOptions<T> {
    fetch: Fetch<T>;
    pageSize: number;
    /**
     * Pages kept at most (memory stays bounded however far one scrolls).
     */
    maxPages: number;
    onLoaded?: (offset: number, count: number) => void;
    onError?: (reason: unknown) => void;
  }
}
