/**
 * VariableTree: which variables (and items of them) are expanded in the
 * panel, their children read one level and one page at a time from the
 * server (`GET .../variables/{name}/children`), and the flat list of rows the
 * table shows.
 *
 * The server asks the kernel outside its shell (nothing executed, no
 * history); a child whose repr failed carries its own error, and a page that
 * failed shows an error row under its parent only.
 */

import type { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ISidecarRequests } from '../tokens';
import { errorMessage } from '../utils';
import { nodeId } from './paths';
import type { ChildKey, IChild, IVariable } from './types';

/**
 * Children asked per request (the "more" row asks for the next ones).
 */
export const CHILDREN_PAGE_SIZE = 100;

/**
 * Types listed with no children to show (their value is the whole story).
 */
const LEAF_TYPES = new Set([
  'int',
  'float',
  'complex',
  'bool',
  'str',
  'bytes',
  'bytearray',
  'NoneType',
  'range',
  'function',
  'builtin_function_or_method',
  'method',
  'module',
  'type'
]);

/**
 * Whether a variable's row gets a chevron: the server's word when it gives
 * one, else any type but plain scalars, text, functions and empty containers.
 */
export function isExpandable(variable: IVariable): boolean {
  if (typeof variable.expandable === 'boolean') {
    return variable.expandable;
  }
  if (variable.shape && variable.shape.some(length => length === 0)) {
    return false;
  }
  return !LEAF_TYPES.has(variable.type);
}

/**
 * Whether a variable can open in the Data Viewer (paged rows): a DataFrame,
 * a Series, or a 1-D/2-D array (an array of unknown shape is offered; the
 * viewer says so if the server refuses it).
 */
export function isTabular(
  variable: Pick<IVariable, 'type' | 'shape'>
): boolean {
  const type = variable.type;
  if (/(^|\.)(DataFrame|Series)$/.test(type)) {
    return true;
  }
  if (/(^|\.)ndarray$/.test(type)) {
    const shape = variable.shape;
    return shape === null || shape.length === 1 || shape.length === 2;
  }
  return false;
}

interface IRowBase {
  /**
   * Unique in the table: the variable's name and the keys down to the row.
   */
  id: string;
  /**
   * 0 for variables, 1 for their children, ...
   */
  depth: number;
  /**
   * The variable the row belongs to.
   */
  name: string;
  /**
   * Keys from the variable down to this row (its parent's for notes).
   */
  path: ChildKey[];
}

export interface IItemRow extends IRowBase {
  kind: 'variable' | 'child';
  key: ChildKey | null;
  type: string;
  value: string;
  shape: number[] | null;
  size: number | null;
  /**
   * Shape and size with units from the server, if it sent them.
   */
  shapeText: string | null;
  sizeText: string | null;
  expandable: boolean;
  expanded: boolean;
  error: string | null;
  /**
   * The top-level variable, for variable rows.
   */
  variable: IVariable | null;
}

/**
 * A row under an expanded item that is not a child: loading, a failed page,
 * "no children", or "more" (the next page to ask for).
 */
export interface INoteRow extends IRowBase {
  kind: 'loading' | 'error' | 'empty' | 'more';
  message: string;
  /**
   * Children shown and total (for "more").
   */
  shown: number;
  total: number | null;
}

export type TreeRow = IItemRow | INoteRow;

interface INode {
  name: string;
  path: ChildKey[];
  children: IChild[];
  total: number | null;
  truncated: boolean;
  loading: boolean;
  error: string | null;
  /**
   * Bumped on each (re)load: answers of older requests are dropped.
   */
  generation: number;
}

export class VariableTree implements IDisposable {
  constructor(options: VariableTree.IOptions) {
    this._requests = options.requests;
    this._pageSize = options.pageSize ?? CHILDREN_PAGE_SIZE;
  }

  /**
   * Emitted when rows appear, load or fail.
   */
  get changed(): ISignal<this, void> {
    return this._changed;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  get kernelId(): string | null {
    return this._kernelId;
  }

  /**
   * Follow another kernel: everything collapses.
   */
  setKernel(kernelId: string | null): void {
    if (kernelId === this._kernelId) {
      return;
    }
    this._kernelId = kernelId;
    this._nodes.clear();
    this._changed.emit();
  }

  isExpanded(name: string, path: readonly ChildKey[]): boolean {
    return this._nodes.has(nodeId(name, path));
  }

  /**
   * Expand a collapsed item (loading its first children) or collapse it.
   */
  toggle(name: string, path: readonly ChildKey[]): void {
    if (this.isExpanded(name, path)) {
      this.collapse(name, path);
    } else {
      void this.expand(name, path);
    }
  }

  /**
   * Show an item's children, asking for the first page.
   */
  async expand(name: string, path: readonly ChildKey[]): Promise<void> {
    const id = nodeId(name, path);
    if (this._nodes.has(id)) {
      return;
    }
    const node: INode = {
      name,
      path: [...path],
      children: [],
      total: null,
      truncated: false,
      loading: false,
      error: null,
      generation: 0
    };
    this._nodes.set(id, node);
    await this._load(node, 0, true);
  }

  /**
   * Hide an item's children, and forget those of its expanded descendants.
   */
  collapse(name: string, path: readonly ChildKey[]): void {
    const prefix = nodeId(name, path).slice(0, -1);
    for (const id of [...this._nodes.keys()]) {
      if (id === `${prefix}]` || id.startsWith(`${prefix},`)) {
        this._nodes.delete(id);
      }
    }
    this._changed.emit();
  }

  /**
   * Ask for the next page of an expanded item's children.
   */
  async loadMore(name: string, path: readonly ChildKey[]): Promise<void> {
    const node = this._nodes.get(nodeId(name, path));
    if (node && !node.loading) {
      await this._load(node, node.children.length, false);
    }
  }

  /**
   * The variables changed (a new snapshot): drop the expansions of variables
   * that are gone and read the children of the others again (as many as
   * were shown, at least one page).
   */
  async reload(names: ReadonlySet<string>): Promise<void> {
    if (this._nodes.size === 0) {
      return; // nothing expanded: nothing to read, the rows are as they were
    }
    const reloads: Promise<void>[] = [];
    for (const [id, node] of [...this._nodes]) {
      if (!names.has(node.name)) {
        this._nodes.delete(id);
      } else {
        reloads.push(this._load(node, 0, true));
      }
    }
    this._changed.emit();
    await Promise.all(reloads);
  }

  /**
   * The table's rows: each variable, then the rows of what is expanded
   * below it, depth first.
   */
  rows(variables: readonly IVariable[]): TreeRow[] {
    const rows: TreeRow[] = [];
    for (const variable of variables) {
      const expandable = isExpandable(variable);
      const expanded = expandable && this.isExpanded(variable.name, []);
      rows.push({
        kind: 'variable',
        id: nodeId(variable.name, []),
        depth: 0,
        name: variable.name,
        path: [],
        key: null,
        type: variable.type,
        value: variable.value,
        shape: variable.shape,
        size: variable.size,
        shapeText: variable.shape_text ?? null,
        sizeText: variable.size_text ?? null,
        expandable,
        expanded,
        error: null,
        variable
      });
      if (expanded) {
        this._childRows(variable.name, [], 1, rows);
      }
    }
    return rows;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._nodes.clear();
    Signal.clearData(this);
  }

  private _childRows(
    name: string,
    path: ChildKey[],
    depth: number,
    rows: TreeRow[]
  ): void {
    const node = this._nodes.get(nodeId(name, path));
    if (!node) {
      return;
    }
    const note = (kind: INoteRow['kind'], message = ''): void => {
      rows.push({
        kind,
        id: `${nodeId(name, path)}:${kind}`,
        depth,
        name,
        path,
        message,
        shown: node.children.length,
        total: node.total
      });
    };
    for (const child of node.children) {
      const childPath = [...path, child.key];
      const expanded = child.expandable && this.isExpanded(name, childPath);
      rows.push({
        kind: 'child',
        id: nodeId(name, childPath),
        depth,
        name,
        path: childPath,
        key: child.key,
        type: child.type,
        value: child.value ?? '',
        shape: child.shape,
        size: child.size,
        shapeText: child.shape_text ?? null,
        sizeText: child.size_text ?? null,
        expandable: child.expandable,
        expanded,
        error: child.error ?? null,
        variable: null
      });
      if (expanded) {
        this._childRows(name, childPath, depth + 1, rows);
      }
    }
    if (node.error !== null) {
      note('error', node.error);
    } else if (node.loading) {
      note('loading');
    } else if (hasMore(node)) {
      note('more');
    } else if (node.children.length === 0) {
      note('empty');
    }
  }

  private async _load(
    node: INode,
    offset: number,
    replace: boolean
  ): Promise<void> {
    const kernelId = this._kernelId;
    if (kernelId === null) {
      return;
    }
    const generation = ++node.generation;
    const limit = replace
      ? Math.max(this._pageSize, node.children.length)
      : this._pageSize;
    node.loading = true;
    node.error = null;
    this._changed.emit();
    let error: string | null = null;
    let page = null;
    try {
      page = await this._requests.children(
        kernelId,
        node.name,
        node.path,
        offset,
        limit
      );
    } catch (reason) {
      error = errorMessage(reason);
    }
    const id = nodeId(node.name, node.path);
    if (
      this._isDisposed ||
      generation !== node.generation ||
      this._nodes.get(id) !== node ||
      kernelId !== this._kernelId
    ) {
      return; // collapsed, reloaded or another kernel meanwhile
    }
    node.loading = false;
    node.error = error;
    if (page) {
      const children = Array.isArray(page.children) ? page.children : [];
      node.children = replace
        ? children
        : [...node.children.slice(0, offset), ...children];
      node.total = typeof page.total === 'number' ? page.total : null;
      node.truncated = page.truncated === true;
    }
    this._changed.emit();
  }

  private _requests: Pick<ISidecarRequests, 'children'>;
  private _pageSize: number;
  private _kernelId: string | null = null;
  private _nodes = new Map<string, INode>();
  private _isDisposed = false;
  private _changed = new Signal<this, void>(this);
}

/**
 * Whether an item has children beyond those shown.
 */
function hasMore(node: INode): boolean {
  if (node.total !== null) {
    return node.children.length < node.total;
  }
  return node.truncated;
}

export namespace VariableTree {
  export interface IOptions {
    requests: Pick<ISidecarRequests, 'children'>;
    /**
     * Children per request; {@link CHILDREN_PAGE_SIZE} by default.
     */
    pageSize?: number;
  }
}
