/**
 * Query strings of the drill-down and paged-rows routes, and the identity of
 * a row of the variables tree. Pure.
 */

import type { ChildKey, IRowsQuery } from './types';

/**
 * `?path=<URL-encoded JSON list of keys>&offset=&limit=` of `.../children`.
 */
export function childrenQuery(
  path: readonly ChildKey[],
  offset: number,
  limit: number
): string {
  return (
    `?path=${encodeURIComponent(JSON.stringify(path))}` +
    `&offset=${offset}&limit=${limit}`
  );
}

/**
 * `?offset=&limit=[&sort=&ascending=]` of `.../rows` (no sort: the frame's
 * own order).
 */
export function rowsQuery(query: IRowsQuery): string {
  let text = `?offset=${query.offset}&limit=${query.limit}`;
  if (query.sort !== undefined && query.sort !== null) {
    text +=
      `&sort=${encodeURIComponent(query.sort)}` +
      `&ascending=${query.ascending === false ? 'false' : 'true'}`;
  }
  return text;
}

/**
 * One string for a variable's item (its name, then the keys down to it):
 * the key of the tree's expanded set and caches. JSON keeps `1` and `'1'`
 * apart.
 */
export function nodeId(name: string, path: readonly ChildKey[]): string {
  return JSON.stringify([name, ...path]);
}

/**
 * How a key is written in the Name column: list indices as `[0]`, strings as
 * they are, anything else as JSON.
 */
export function formatKey(key: ChildKey): string {
  if (typeof key === 'number') {
    return `[${key}]`;
  }
  return typeof key === 'string' ? key : JSON.stringify(key);
}
