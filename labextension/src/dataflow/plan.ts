/**
 * From a plan to the cells to run, and when to ask the server again. Pure.
 */

import type { ICellChangedEvent } from '../tokens';
import type { INotebookCell } from './markers';
import type { IPlanRequest, PlanDirection } from './types';

/**
 * The body of `POST .../plan`: the notebook's code cells as they are now.
 */
export function planRequest(
  cells: readonly INotebookCell[],
  target: string,
  direction: PlanDirection
): IPlanRequest {
  return {
    cells: cells.map(({ id, source }) => ({ id, source })),
    target,
    direction
  };
}

/**
 * The items of the planned cell ids, in the plan's order; ids the notebook
 * does not have any more (a cell deleted while the server planned) are left
 * out, and each item comes once.
 */
export function inPlanOrder<T>(
  plan: readonly string[],
  items: readonly T[],
  idOf: (item: T) => string
): T[] {
  const byId = new Map(items.map(item => [idOf(item), item]));
  const seen = new Set<string>();
  const ordered: T[] = [];
  for (const id of plan) {
    const item = byId.get(id);
    if (item !== undefined && !seen.has(id)) {
      seen.add(id);
      ordered.push(item);
    }
  }
  return ordered;
}

/**
 * Reactive mode: the cells to run after `target` ran, from its downstream
 * plan: not the target itself, nor cells already waiting or running (a Run
 * All scheduled them: they run anyway, and after the target).
 */
export function reactiveFollowUps(
  plan: readonly string[],
  target: string,
  pending: ReadonlySet<string>
): string[] {
  return plan.filter(id => id !== target && !pending.has(id));
}

/**
 * Whether a `cell_changed` event may change the markers: an execution ended
 * (what it defined can make others stale), or a cell's count of stale inputs
 * is not the one last fetched. Outputs streaming into a running cell do not.
 */
export function shouldRefetch(
  event: ICellChangedEvent,
  staleInputs: ReadonlyMap<string, number>
): boolean {
  if (
    event.status === 'ok' ||
    event.status === 'error' ||
    event.status === 'aborted'
  ) {
    return true;
  }
  return (
    event.stale_inputs !== undefined &&
    event.stale_inputs !== (staleInputs.get(event.cell_id) ?? 0)
  );
}
