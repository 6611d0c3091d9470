/**
 * How the Variables panel writes sizes and shapes for people. Pure.
 */

/**
 * A byte count for people: 512 B, 1.5 KiB, 12 MiB.
 */
export function formatBytes(size: number | null): string {
  if (size === null) {
    return '';
  }
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = size;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${Number(value.toFixed(digits))} ${units[unit]}`;
}

/**
 * A shape for people: `5` for one dimension, `3 × 4` for more, `()` for a scalar.
 */
export function formatShape(shape: number[] | null): string {
  if (shape === null) {
    return '';
  }
  return shape.length === 0 ? '()' : shape.join(' × ');
}
