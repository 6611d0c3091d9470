/**
 * Which cells of a notebook carry a dataflow marker, and the tooltip that
 * names the cause. Pure: the server's dataflow answer and the notebook's
 * current code cells in, markers out.
 *
 * The server knows what ran; the page knows the notebook as it is now. So
 * two reasons are found here: a cell whose source changed since it ran
 * (edited), and a name only a cell deleted from this notebook defined
 * (hidden state the server cannot see: its record still has that cell). A
 * cell reading a name from a stale cell is stale too (its output came from
 * an out-of-date value), transitively along the server's edges.
 */

import type {
  ICellMarker,
  IDataflow,
  IDataflowCell,
  OutdatedReason
} from './types';

/**
 * A code cell of the notebook as it is now.
 */
export interface INotebookCell {
  id: string;
  source: string;
}

/**
 * What the tooltips need of a translation bundle (JupyterLab's
 * `TranslationBundle` has it).
 */
export interface ITranslate {
  __(msgid: string, ...args: unknown[]): string;
}

/**
 * The markers of the notebook's cells (by cell id); a cell without a reason
 * has none. `dataflow` null (no kernel, no answer): no markers.
 */
export function cellMarkers(
  dataflow: IDataflow | null,
  notebook: readonly INotebookCell[]
): Map<string, ICellMarker> {
  const markers = new Map<string, ICellMarker>();
  if (!dataflow) {
    return markers;
  }
  const sources = new Map(notebook.map(cell => [cell.id, cell.source]));
  const recorded = new Map<string, IDataflowCell>();
  const definedEver = new Set<string>();
  const definedNow = new Set<string>();
  for (const cell of dataflow.cells) {
    cell.defines.forEach(name => definedEver.add(name));
    if (sources.has(cell.id)) {
      recorded.set(cell.id, cell);
      cell.defines.forEach(name => definedNow.add(name));
    }
  }

  const reasons = new Map<string, OutdatedReason[]>();
  const add = (id: string, reason: OutdatedReason): void => {
    const list = reasons.get(id);
    if (list) {
      list.push(reason);
    } else {
      reasons.set(id, [reason]);
    }
  };
  const stale = new Set<string>();
  for (const cell of recorded.values()) {
    const hidden = new Set(cell.hidden_names);
    for (const name of cell.uses) {
      if (definedEver.has(name) && !definedNow.has(name)) {
        hidden.add(name);
      }
    }
    [...hidden].sort().forEach(name => add(cell.id, { kind: 'hidden', name }));
    for (const reason of cell.stale_because) {
      add(cell.id, {
        kind: 'redefined',
        name: reason.name,
        cellId: reason.cell_id,
        executionCount: reason.execution_count
      });
      stale.add(cell.id);
    }
  }

  // Readers of a stale cell's names, transitively (cycles end: each cell once).
  const todo = [...stale];
  while (todo.length > 0) {
    const from = todo.shift() as string;
    for (const edge of dataflow.edges) {
      if (edge.from !== from || edge.to === from || !recorded.has(edge.to)) {
        continue;
      }
      const redefined = new Set<string>();
      for (const reason of reasons.get(edge.to) ?? []) {
        if (reason.kind === 'redefined') {
          redefined.add(reason.name);
        }
      }
      const names = edge.names.filter(name => !redefined.has(name));
      if (names.length === 0) {
        continue;
      }
      add(edge.to, {
        kind: 'upstream',
        names,
        cellId: from,
        executionCount: recorded.get(from)?.execution_count ?? null
      });
      if (!stale.has(edge.to)) {
        stale.add(edge.to);
        todo.push(edge.to);
      }
    }
  }

  for (const cell of recorded.values()) {
    if (cell.source !== undefined && sources.get(cell.id) !== cell.source) {
      add(cell.id, { kind: 'edited' });
    }
  }

  for (const [id, list] of reasons) {
    const hidden = list.some(reason => reason.kind === 'hidden');
    markers.set(id, { kind: hidden ? 'hidden' : 'stale', reasons: list });
  }
  return markers;
}

/**
 * One tooltip line per reason, e.g. "`df` changed by cell [7] after this ran".
 */
export function reasonText(reason: OutdatedReason, trans: ITranslate): string {
  switch (reason.kind) {
    case 'redefined':
      return reason.executionCount === null
        ? trans.__('`%1` changed by another cell after this ran', reason.name)
        : trans.__(
            '`%1` changed by cell [%2] after this ran',
            reason.name,
            reason.executionCount
          );
    case 'upstream': {
      const names = reason.names.map(name => `\`${name}\``).join(', ');
      return reason.executionCount === null
        ? trans.__('uses %1 from another cell, which is out of date', names)
        : trans.__(
            'uses %1 from cell [%2], which is out of date',
            names,
            reason.executionCount
          );
    }
    case 'edited':
      return trans.__('edited since it ran');
    case 'hidden':
      return trans.__(
        'uses `%1`, which no cell of this notebook defines',
        reason.name
      );
  }
}

/**
 * The marker's tooltip: hidden state first, then the other reasons, a line
 * each.
 */
export function markerTooltip(marker: ICellMarker, trans: ITranslate): string {
  const order = { hidden: 0, redefined: 1, upstream: 2, edited: 3 };
  return [...marker.reasons]
    .sort((a, b) => order[a.kind] - order[b.kind])
    .map(reason => reasonText(reason, trans))
    .join('\n');
}
