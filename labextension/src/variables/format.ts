/**
 * How the Variables panel writes sizes, shapes and counts for people. Pure.
 *
 * Only what the server measured is written: an unknown size or shape is
 * blank, never estimated.
 */

/**
 * An integer with thousands separators, the same in every locale: 1,000,000.
 */
export function formatCount(count: number): string {
  const digits = String(Math.trunc(Math.abs(count)));
  const grouped = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return count < 0 ? `-${grouped}` : grouped;
}

/**
 * A byte count as pandas' `memory_usage` writes it (powers of 1024):
 * 512 B, 1.2 KB, 12.5 MB, 125 MB.
 */
export function formatBytes(size: number | null | undefined): string {
  if (size === null || size === undefined || !Number.isFinite(size)) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) {
    return `${Math.round(value)} B`;
  }
  // 1023.95 KB would round to "1024.0 KB": say 1 MB's worth instead.
  const text = value >= 100 ? String(Math.round(value)) : value.toFixed(1);
  return `${text} ${units[unit]}`;
}

/**
 * Types whose 2-D shape is rows and columns.
 */
function isFrame(type: string): boolean {
  return /(^|\.)DataFrame$/.test(type);
}

/**
 * Types whose 1-D shape is a number of rows.
 */
function isSeries(type: string): boolean {
  return /(^|\.)(Series|Index)$/.test(type);
}

/**
 * Types whose length counts characters or bytes rather than items.
 */
const TEXT_UNITS: Record<string, string> = {
  str: 'chars',
  bytes: 'bytes',
  bytearray: 'bytes'
};

/**
 * Python containers (and their usual relatives) whose length counts items.
 */
const CONTAINERS = new Set([
  'list',
  'tuple',
  'dict',
  'set',
  'frozenset',
  'deque',
  'OrderedDict',
  'defaultdict',
  'Counter',
  'range'
]);

function plural(count: number, one: string, many: string): string {
  return `${formatCount(count)} ${count === 1 ? one : many}`;
}

/**
 * A shape for people, in the type's units: `2 rows x 3 cols` for a
 * DataFrame, `5 rows` for a Series, `5 chars` for a str, `4 items` for a
 * list or dict, and numpy's tuple (`(2, 2)`, `(5,)`, `()`) for arrays and
 * anything else.
 */
export function formatShape(shape: number[] | null, type = ''): string {
  if (shape === null || shape === undefined) {
    return '';
  }
  if (isFrame(type) && shape.length === 2) {
    return `${plural(shape[0], 'row', 'rows')} x ${plural(shape[1], 'col', 'cols')}`;
  }
  if (isSeries(type) && shape.length === 1) {
    return plural(shape[0], 'row', 'rows');
  }
  if (shape.length === 1 && type in TEXT_UNITS) {
    return `${formatCount(shape[0])} ${TEXT_UNITS[type]}`;
  }
  if (shape.length === 1 && CONTAINERS.has(type)) {
    return plural(shape[0], 'item', 'items');
  }
  // numpy's own tuple: its commas separate dimensions, not thousands.
  return shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
}
