/**
 * Shapes of the server's variable snapshots (`GET .../variables`) and of what
 * the Variables panel shows.
 */

/**
 * One row of a snapshot.
 */
export interface IVariable {
  name: string;
  type: string;
  /**
   * The kernel's bounded repr of the value.
   */
  value: string;
  /**
   * Bytes of data, when the preview determines it exactly.
   */
  size: number | null;
  /**
   * Dimensions, when the preview determines them exactly.
   */
  shape: number[] | null;
  /**
   * Whether the row has children to drill into (servers that do not say:
   * the panel decides from the type).
   */
  expandable?: boolean;
  /**
   * The shape and size with their units as the server writes them
   * ('2 rows x 3 cols', '1.2 KB'); the panel formats `shape`/`size` itself
   * when a server does not send them.
   */
  shape_text?: string | null;
  size_text?: string | null;
}

/**
 * Reply of `GET api/sidecar/kernels/{kernel_id}/variables`.
 */
export interface IVariablesSnapshot {
  kernel_id: string;
  state: 'ok' | 'unavailable' | 'pending';
  reason?: string | null;
  /**
   * Whether the kernel ran code after the snapshot (as the server saw it).
   */
  stale?: boolean;
  updated_at: string | null;
  /**
   * Execution count of the last user execution the snapshot includes.
   */
  execution_count: number | null;
  kernel_busy: boolean;
  /**
   * Variables that passed the server's filter (rows may be fewer).
   */
  count?: number;
  truncated?: boolean;
  variables: IVariable[];
  /**
   * Changes whenever `variables` or `count` change (older servers: absent).
   */
  rows_version?: string | null;
}

/**
 * Reply of `GET api/sidecar/kernels/{kernel_id}/variables/{name}`.
 */
export interface IVariableView {
  kernel_id: string;
  name: string;
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  truncated: boolean;
  /**
   * Set when the kernel could not format the variable (the preview stands in).
   */
  error?: string;
}

export type SortColumn = 'name' | 'type' | 'shape' | 'size' | 'value';

export interface ISort {
  column: SortColumn;
  ascending: boolean;
}

/**
 * What the panel shows as a whole: no kernel to follow, the first answer
 * awaited, a request that failed, or the server's snapshot state.
 */
export type PanelState =
  'no-kernel' | 'loading' | 'error' | IVariablesSnapshot['state'];

/**
 * A key on the way from a variable to one of its children: a dict key, an
 * index, an attribute or column name, as the server gave it.
 */
export type ChildKey = string | number | boolean | null;

/**
 * One child of a variable (a dict item, list element, attribute, column...).
 */
export interface IChild {
  key: ChildKey;
  type: string;
  /**
   * Bounded repr; null when `error` says why it is not shown.
   */
  value: string | null;
  shape: number[] | null;
  size: number | null;
  shape_text?: string | null;
  size_text?: string | null;
  expandable: boolean;
  /**
   * Set when the kernel could not describe this child (its `__repr__`
   * raised or took too long); the other children are fine.
   */
  error?: string | null;
}

/**
 * Reply of `GET .../variables/{name}/children?path=&offset=&limit=`.
 */
export interface IChildrenPage {
  kernel_id: string;
  name: string;
  path: ChildKey[];
  offset: number;
  limit: number;
  total: number | null;
  children: IChild[];
  truncated: boolean;
}

/**
 * A column of a paged table.
 */
export interface IDataColumn {
  name: string;
  dtype: string;
}

/**
 * Reply of `GET .../variables/{name}/rows?offset=&limit=&sort=&ascending=`.
 */
export interface IRowsPage {
  kernel_id: string;
  name: string;
  offset: number;
  limit: number;
  total_rows: number;
  columns: IDataColumn[];
  index: unknown[];
  rows: string[][];
  sort: string | null;
  ascending: boolean;
}

/**
 * What to ask of `GET .../rows`.
 */
export interface IRowsQuery {
  offset: number;
  limit: number;
  sort?: string | null;
  ascending?: boolean;
}
