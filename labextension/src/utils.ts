/**
 * Small helpers shared by the plugins' models.
 */

/**
 * Add a key to a set used as a bounded memory: the oldest keys are forgotten
 * past `max`, and a key added again counts as new.
 */
export function remember(set: Set<string>, key: string, max: number): void {
  set.delete(key);
  set.add(key);
  for (const oldest of set) {
    if (set.size <= max) {
      break;
    }
    set.delete(oldest);
  }
}
