import type { INotebookModel } from '@jupyterlab/notebook';
import { Signal } from '@lumino/signaling';

import { RunTrust } from '../src/restore/trust';

/**
 * The parts of a code cell model RunTrust uses.
 */
class Cell {
  type = 'code';
  stateChanged = new Signal<this, { name: string; newValue?: unknown }>(this);
  outputs = { length: 0, trusted: false };
  run(): void {
    this.stateChanged.emit({ name: 'executionState', newValue: 'running' });
  }
}

class Cells {
  changed = new Signal<this, { type: string; newValues: Cell[] }>(this);
  constructor(public items: Cell[]) {}
  [Symbol.iterator](): Iterator<Cell> {
    return this.items[Symbol.iterator]();
  }
  add(cell: Cell): void {
    this.items.push(cell);
    this.changed.emit({ type: 'add', newValues: [cell] });
  }
}

function watch(cells: Cells, active = (): boolean => true): RunTrust {
  return new RunTrust({ cells } as unknown as INotebookModel, active);
}

describe('RunTrust', () => {
  it('trusts a cell that starts running and shows no output yet', () => {
    const cell = new Cell();
    watch(new Cells([cell]));
    cell.run();
    expect(cell.outputs.trusted).toBe(true);
  });

  it('also watches cells added later', () => {
    const cells = new Cells([]);
    watch(cells);
    const cell = new Cell();
    cells.add(cell);
    cell.run();
    expect(cell.outputs.trusted).toBe(true);
  });

  it('never trusts outputs already shown, nor while inactive or disposed', () => {
    const shown = new Cell();
    shown.outputs.length = 1;
    const idle = new Cell();
    const later = new Cell();
    let active = true;
    const trust = watch(new Cells([shown, idle, later]), () => active);
    shown.run();
    idle.stateChanged.emit({ name: 'executionState', newValue: 'idle' });
    active = false;
    later.run();
    expect([shown, idle, later].map(cell => cell.outputs.trusted)).toEqual([
      false,
      false,
      false
    ]);
    active = true;
    trust.dispose();
    later.run();
    expect(later.outputs.trusted).toBe(false);
  });
});
