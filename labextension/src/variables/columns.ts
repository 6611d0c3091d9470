/**
 * Widths of the Variables table's columns. Pure.
 *
 * Type, shape and size get what their longest text needs (they are short and
 * people read them whole); the name gets what it needs up to a share of the
 * panel; the value takes the rest. Widths the user dragged win. When the
 * panel is too narrow for all that, the table scrolls sideways rather than
 * cutting type and shape.
 */

import type { SortColumn } from './types';

export const COLUMNS: readonly SortColumn[] = [
  'name',
  'type',
  'shape',
  'size',
  'value'
];

export type ColumnWidths = Record<SortColumn, number>;

/**
 * Narrowest a column can be dragged to, and the least the value keeps.
 */
export const MIN_COLUMN_WIDTH = 32;
export const MIN_VALUE_WIDTH = 64;

/**
 * Share of the panel the name column takes at most, unless dragged.
 */
const NAME_SHARE = 0.4;

/**
 * Column widths in px.
 *
 * @param natural What each column's longest text (header included) needs.
 * @param available The width of the panel's table area.
 * @param user Widths the user set by dragging a header's edge.
 */
export function fitColumns(
  natural: ColumnWidths,
  available: number,
  user: Partial<ColumnWidths> = {}
): ColumnWidths {
  const widths = { ...natural };
  for (const column of ['type', 'shape', 'size'] as const) {
    widths[column] =
      user[column] ?? Math.max(MIN_COLUMN_WIDTH, natural[column]);
  }
  widths.name =
    user.name ??
    Math.max(
      MIN_COLUMN_WIDTH,
      Math.min(natural.name, Math.floor(available * NAME_SHARE))
    );
  const others = widths.name + widths.type + widths.shape + widths.size;
  widths.value = user.value ?? Math.max(MIN_VALUE_WIDTH, available - others);
  return widths;
}

/**
 * A column's new width while its edge is dragged.
 */
export function draggedWidth(start: number, delta: number): number {
  return Math.max(MIN_COLUMN_WIDTH, Math.round(start + delta));
}
