/**
 * Pure helpers on variable snapshots: bringing a held snapshot up to date
 * from a `variables_updated` event alone, and ordering rows.
 *
 * Most executions change no listed variable (`1`, `print(...)`): the server
 * then keeps the snapshot's `rows_version`, and the panel needs neither the
 * GET nor a new table, only the event's count and freshness.
 */

import type { IVariablesUpdatedEvent } from '../tokens';
import type { IVariable, IVariablesSnapshot, ISort, SortColumn } from './types';

/**
 * `held` brought up to date by `event` when the event proves its rows are
 * still the server's (same `rows_version`, a fresh `ok` snapshot); null when
 * the snapshot must be read again. The rows keep their identity, so nothing
 * that depends on them only is rebuilt.
 */
export function advancedSnapshot(
  held: IVariablesSnapshot | null,
  event: IVariablesUpdatedEvent
): IVariablesSnapshot | null {
  if (
    !held ||
    held.state !== 'ok' ||
    event.state !== 'ok' ||
    event.stale !== false || // a stale snapshot says why in `reason`: read it
    event.kernel_id !== held.kernel_id ||
    !event.rows_version ||
    event.rows_version !== held.rows_version
  ) {
    return null;
  }
  return {
    ...held,
    stale: false,
    reason: null,
    execution_count: event.execution_count,
    count: event.count ?? held.count
  };
}

// Made once: `localeCompare` with options builds a collator on every call
// (most of a sort's time).
const NUMERIC = new Intl.Collator(undefined, { numeric: true });
const PLAIN = new Intl.Collator();

/**
 * The rows whose name or type contains `filter` (any case), sorted: unknown
 * shapes and sizes stay last whatever the direction, ties by name.
 */
export function sortedRows(
  variables: readonly IVariable[],
  filter: string,
  sort: ISort
): IVariable[] {
  const needle = filter.trim().toLowerCase();
  const rows = variables.filter(
    row =>
      !needle ||
      row.name.toLowerCase().includes(needle) ||
      row.type.toLowerCase().includes(needle)
  );
  const { column, ascending } = sort;
  const sign = ascending ? 1 : -1;
  return rows.sort((a, b) => {
    const order = compareBy(column, a, b);
    if (order.unknown !== 0) {
      return order.unknown;
    }
    return sign * order.value || PLAIN.compare(a.name, b.name);
  });
}

/**
 * Order of two rows on a column: `unknown` puts rows without a shape or
 * size after the others (0 when both or neither are known).
 */
function compareBy(
  column: SortColumn,
  a: IVariable,
  b: IVariable
): { unknown: number; value: number } {
  switch (column) {
    case 'size':
      return compareNumbers(a.size, b.size);
    case 'shape':
      return compareNumbers(elements(a.shape), elements(b.shape));
    default:
      return { unknown: 0, value: NUMERIC.compare(a[column], b[column]) };
  }
}

function compareNumbers(
  a: number | null,
  b: number | null
): { unknown: number; value: number } {
  if (a === null || b === null) {
    return { unknown: (a === null ? 1 : 0) - (b === null ? 1 : 0), value: 0 };
  }
  return { unknown: 0, value: a - b };
}

function elements(shape: number[] | null): number | null {
  return shape === null ? null : shape.reduce((product, n) => product * n, 1);
}
