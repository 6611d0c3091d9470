import type * as nbformat from '@jupyterlab/nbformat';
import type { IOutputAreaModel } from '@jupyterlab/outputarea';
import type { KernelMessage } from '@jupyterlab/services';

import {
  applyIOPub,
  canOffer,
  decide,
  DisplayMap,
  IPageCell,
  putRecorded,
  sameOutputs,
  showsRun,
  trustShown,
  updateDisplay,
  WIDGET_VIEW_MIME,
  withoutDeadViews
} from '../src/restore/outputs';
import type { ICodeCellModel } from '@jupyterlab/cells';
import { Signal } from '@lumino/signaling';
import type { IShadowCell } from '../src/restore/types';

/**
 * The part of an output area model the rules use, recording what they do.
 */
class FakeOutputs {
  items: nbformat.IOutput[] = [];
  cleared: boolean[] = [];
  get length(): number {
    return this.items.length;
  }
  add(output: nbformat.IOutput): number {
    this.items.push(output);
    return this.items.length;
  }
  set(index: number, output: nbformat.IOutput): void {
    this.items[index] = output;
  }
  clear(wait = false): void {
    this.cleared.push(wait);
    if (!wait) {
      this.items = [];
    }
  }
  asModel(): IOutputAreaModel {
    return this as unknown as IOutputAreaModel;
  }
}

function shadow(overrides: Partial<IShadowCell> = {}): IShadowCell {
  return {
    id: 'c1',
    msg_id: 'm1',
    source: 'print(1)',
    status: 'ok',
    execution_count: 3,
    outputs: [{ output_type: 'stream', name: 'stdout', text: '1\n' }],
    started: null,
    ended: null,
    seq: 1,
    truncated: false,
    run: 0,
    stale: false,
    gap: false,
    ...overrides
  };
}

function page(overrides: Partial<IPageCell> = {}): IPageCell {
  return {
    source: 'print(1)',
    executionCount: null,
    running: false,
    outputs: [],
    ...overrides
  };
}

function iopub(
  msgType: string,
  content: Record<string, unknown>
): KernelMessage.IIOPubMessage {
  return {
    header: { msg_type: msgType },
    parent_header: { msg_id: 'm1' },
    content
  } as unknown as KernelMessage.IIOPubMessage;
}

describe('decide', () => {
  it('fills a cell that shows nothing of a finished execution', () => {
    expect(decide(page(), shadow())).toEqual({ action: 'fill' });
  });

  it('never puts back an execution of an earlier kernel run', () => {
    expect(decide(page(), shadow({ stale: true }))).toEqual({
      action: 'skip',
      reason: 'stale'
    });
  });

  it('leaves a cell the page is running to JupyterLab', () => {
    expect(decide(page({ running: true }), shadow())).toEqual({
      action: 'skip',
      reason: 'busy'
    });
  });

  it('leaves an edited cell alone', () => {
    expect(decide(page({ source: 'print(2)' }), shadow())).toEqual({
      action: 'skip',
      reason: 'edited'
    });
  });

  it('follows an execution still queued or running', () => {
    for (const status of ['queued', 'running'] as const) {
      expect(decide(page(), shadow({ status }))).toEqual({ action: 'follow' });
    }
  });

  it('keeps what the page shows when it is newer', () => {
    expect(decide(page({ executionCount: 5 }), shadow())).toEqual({
      action: 'skip',
      reason: 'newer'
    });
    expect(
      decide(page({ executionCount: 1 }), shadow({ execution_count: null }))
    ).toEqual({ action: 'skip', reason: 'newer' });
  });

  it('does nothing when the page already shows the record', () => {
    const outputs: nbformat.IOutput[] = [
      { output_type: 'stream', name: 'stdout', text: ['1', '\n'] }
    ];
    expect(decide(page({ executionCount: 3, outputs }), shadow())).toEqual({
      action: 'same'
    });
  });
});

describe('canOffer', () => {
  it('offers recorded outputs to an unchanged cell that shows none', () => {
    expect(canOffer(page(), shadow())).toBe(true);
  });

  it('never offers to a cell with outputs, running, or edited', () => {
    const shown: nbformat.IOutput[] = [
      { output_type: 'stream', name: 'stdout', text: 'x' }
    ];
    expect(canOffer(page({ outputs: shown }), shadow())).toBe(false);
    expect(canOffer(page({ running: true }), shadow())).toBe(false);
    expect(canOffer(page({ source: 'other' }), shadow())).toBe(false);
    expect(canOffer(page(), shadow({ outputs: [] }))).toBe(false);
  });
});

describe('sameOutputs', () => {
  it('joins multiline strings and ignores key order and transient', () => {
    const a = [
      {
        output_type: 'display_data',
        data: { 'text/plain': ['a', 'b'] },
        metadata: {},
        transient: { display_id: 'd' }
      }
    ] as nbformat.IOutput[];
    const b = [
      {
        metadata: {},
        data: { 'text/plain': 'ab' },
        output_type: 'display_data'
      }
    ] as nbformat.IOutput[];
    expect(sameOutputs(a, b)).toBe(true);
  });

  it('takes missing metadata as empty', () => {
    const a = [
      { output_type: 'execute_result', data: {}, execution_count: 1 }
    ] as unknown as nbformat.IOutput[];
    const b = [
      {
        output_type: 'execute_result',
        data: {},
        metadata: {},
        execution_count: 1
      }
    ] as nbformat.IOutput[];
    expect(sameOutputs(a, b)).toBe(true);
  });

  it('keeps JSON mime bundles as they are', () => {
    const json = (value: unknown) =>
      [
        {
          output_type: 'display_data',
          data: { 'application/json': value },
          metadata: {}
        }
      ] as nbformat.IOutput[];
    expect(sameOutputs(json(['a', 'b']), json('ab'))).toBe(false);
  });

  it('differs on length and content', () => {
    const one: nbformat.IOutput[] = [
      { output_type: 'stream', name: 'stdout', text: 'a' }
    ];
    const other: nbformat.IOutput[] = [
      { output_type: 'stream', name: 'stderr', text: 'a' }
    ];
    expect(sameOutputs(one, [])).toBe(false);
    expect(sameOutputs(one, other)).toBe(false);
  });
});

describe('applyIOPub and updateDisplay', () => {
  it('adds outputs without their transient part', () => {
    const outputs = new FakeOutputs();
    const displays: DisplayMap = new Map();
    const changed = applyIOPub(
      outputs.asModel(),
      iopub('stream', { name: 'stdout', text: 'hi\n' }),
      displays
    );
    expect(changed).toBe(true);
    applyIOPub(
      outputs.asModel(),
      iopub('display_data', {
        data: { 'text/plain': 'v1' },
        metadata: {},
        transient: { display_id: 'd1' }
      }),
      displays
    );
    expect(outputs.items).toEqual([
      { output_type: 'stream', name: 'stdout', text: 'hi\n' },
      {
        output_type: 'display_data',
        data: { 'text/plain': 'v1' },
        metadata: {}
      }
    ]);
    expect(displays.get('d1')).toEqual([1]);
  });

  it('updates every output shown with a display id', () => {
    const outputs = new FakeOutputs();
    const displays: DisplayMap = new Map();
    const shown = iopub('display_data', {
      data: { 'text/plain': 'v1' },
      metadata: {},
      transient: { display_id: 'd1' }
    });
    applyIOPub(outputs.asModel(), shown, displays);
    applyIOPub(outputs.asModel(), shown, displays);
    const update = iopub('update_display_data', {
      data: { 'text/plain': 'v2' },
      metadata: {},
      transient: { display_id: 'd1' }
    });
    expect(applyIOPub(outputs.asModel(), update, displays)).toBe(false);
    expect(updateDisplay(outputs.asModel(), update, displays)).toBe(true);
    expect(outputs.items.map(output => output.data)).toEqual([
      { 'text/plain': 'v2' },
      { 'text/plain': 'v2' }
    ]);
    const unknown = iopub('update_display_data', {
      data: {},
      metadata: {},
      transient: { display_id: 'other' }
    });
    expect(updateDisplay(outputs.asModel(), unknown, displays)).toBe(false);
  });

  it('honours clear_output wait', () => {
    const outputs = new FakeOutputs();
    const displays: DisplayMap = new Map([['d1', [0]]]);
    outputs.add({ output_type: 'stream', name: 'stdout', text: 'a' });
    applyIOPub(
      outputs.asModel(),
      iopub('clear_output', { wait: true }),
      displays
    );
    expect(outputs.cleared).toEqual([true]);
    expect(outputs.length).toBe(1);
    expect(displays.size).toBe(1);
    applyIOPub(
      outputs.asModel(),
      iopub('clear_output', { wait: false }),
      displays
    );
    expect(outputs.length).toBe(0);
    expect(displays.size).toBe(0);
  });
});

describe('putRecorded', () => {
  it('trusts the cell before its outputs are put back, as a live run does', () => {
    const outputs = new FakeOutputs();
    const trustedWhenAdded: boolean[] = [];
    const model = {
      trusted: false,
      outputs: outputs.asModel()
    };
    const add = outputs.add.bind(outputs);
    outputs.add = (output: nbformat.IOutput): number => {
      trustedWhenAdded.push(model.trusted);
      return add(output);
    };
    putRecorded(model as unknown as ICodeCellModel, [
      { output_type: 'stream', name: 'stdout', text: 'a' }
    ]);
    expect(model.trusted).toBe(true);
    expect(trustedWhenAdded).toEqual([true]);
  });
});

describe('showsRun', () => {
  it('trusts a cell the document shows running a run of the live kernel', () => {
    for (const status of ['queued', 'running'] as const) {
      const run = shadow({ status, execution_count: null });
      expect(showsRun(page({ running: true }), run)).toBe(true);
      // queued elsewhere than in the document: the cell may show older outputs
      expect(showsRun(page({ executionCount: 2 }), run)).toBe(false);
    }
  });

  it('trusts a finished run only where the page shows it', () => {
    expect(showsRun(page({ executionCount: 3 }), shadow())).toBe(true);
    expect(showsRun(page({ running: true }), shadow())).toBe(true);
    expect(showsRun(page({ executionCount: 2 }), shadow())).toBe(false);
    expect(showsRun(page(), shadow())).toBe(false);
    expect(showsRun(page(), shadow({ execution_count: null }))).toBe(false);
  });

  it('never trusts a run of an earlier kernel, nor an edited cell', () => {
    const shown = page({ executionCount: 3, running: true });
    expect(showsRun(shown, shadow({ stale: true }))).toBe(false);
    expect(showsRun(shown, shadow({ source: 'print(2)' }))).toBe(false);
    expect(showsRun(shown, { status: 'ok', execution_count: 3 })).toBe(true);
  });
});

describe('trustShown', () => {
  /**
   * An output model as JupyterLab's `OutputModel`: `trusted` is a plain
   * property, `setData` says it changed.
   */
  class Output {
    changed = new Signal<this, void>(this);
    constructor(
      public trusted: boolean,
      public text = ''
    ) {}
    setData(_: object): void {
      this.changed.emit();
    }
  }
  type Change = { type: string; oldValues: Output[]; newValues: Output[] };
  /**
   * An outputs model as JupyterLab's `OutputAreaModel`: its `trusted` setter
   * creates every output again, `_trusted` is the trust outputs are created
   * with, and an output that changes is announced as set.
   */
  class Outputs {
    changed = new Signal<this, Change>(this);
    items: Output[] = [];
    _trusted = false;
    constructor(texts: string[]) {
      texts.forEach(text => this.add(text));
    }
    get length(): number {
      return this.items.length;
    }
    get(index: number): Output {
      return this.items[index];
    }
    add(text: string): void {
      const item = new Output(this._trusted, text);
      item.changed.connect(() => {
        this.changed.emit({
          type: 'set',
          oldValues: [item],
          newValues: [item]
        });
      });
      this.items.push(item);
      this.changed.emit({ type: 'add', oldValues: [], newValues: [item] });
    }
    get trusted(): boolean {
      return this._trusted;
    }
    set trusted(value: boolean) {
      this._trusted = value;
      this.items = this.items.map(old => {
        const item = new Output(value, old.text);
        this.changed.emit({ type: 'set', oldValues: [old], newValues: [item] });
        return item;
      });
    }
  }
  /**
   * A cell model writing the changes of its outputs to the document.
   */
  class Cell {
    written: string[] = [];
    constructor(public outputs: Outputs) {
      outputs.changed.connect(this.onOutputsChange, this);
    }
    protected onOutputsChange(_: Outputs, change: Change): void {
      this.written.push(change.type);
    }
  }
  const trust = (cell: Cell): boolean =>
    trustShown(cell as unknown as ICodeCellModel);

  it('trusts the shown outputs in place, without writing them', () => {
    const cell = new Cell(new Outputs(['line 0\n', 'line 1\n']));
    const shown = [...cell.outputs.items];
    const rendered: Change[] = [];
    cell.outputs.changed.connect((_, change) => rendered.push(change));
    expect(trust(cell)).toBe(true);
    // the same output models (what follows them keeps following), trusted
    expect(cell.outputs.items).toEqual(shown);
    expect(cell.outputs.items.map(output => output.trusted)).toEqual([
      true,
      true
    ]);
    expect(cell.outputs.trusted).toBe(true);
    expect(cell.written).toEqual([]);
    // the views render them again
    expect(rendered.map(change => change.newValues[0])).toEqual(shown);
    expect(
      rendered.every(change => change.oldValues[0] === change.newValues[0])
    ).toBe(true);
    // later outputs are created trusted, and written again
    cell.outputs.add('line 2\n');
    expect(cell.outputs.get(2).trusted).toBe(true);
    expect(cell.written).toEqual(['add']);
  });

  it('leaves outputs untrusted when it cannot trust them in place', () => {
    const unwritten = new Outputs(['a']);
    expect(
      trustShown({ outputs: unwritten } as unknown as ICodeCellModel)
    ).toBe(false);
    const withoutFlag = new Cell(new Outputs(['a']));
    delete (withoutFlag.outputs as { _trusted?: boolean })._trusted;
    expect(trust(withoutFlag)).toBe(false);
    const readOnly = new Cell(new Outputs(['a']));
    Object.defineProperty(readOnly.outputs.get(0), 'trusted', {
      get: () => false
    });
    expect(trust(readOnly)).toBe(false);
    for (const cell of [withoutFlag, readOnly]) {
      expect(cell.outputs.get(0).trusted).toBe(false);
      expect(cell.written).toEqual([]);
    }
    expect(unwritten.trusted).toBe(false);
    expect(readOnly.outputs.trusted).toBe(false);
  });

  it('trusts a cell showing no output at once', () => {
    const empty = new Cell(new Outputs([]));
    expect(trust(empty)).toBe(true);
    expect(empty.outputs.trusted).toBe(true);
  });
});

describe('withoutDeadViews', () => {
  const view = {
    output_type: 'display_data',
    metadata: {},
    data: {
      'text/plain': 'IntSlider(value=3)',
      [WIDGET_VIEW_MIME]: { model_id: 'abc', version_major: 2 }
    }
  } as nbformat.IOutput;

  it('leaves the fallback of a widget view whose kernel is gone', () => {
    expect(withoutDeadViews([view])).toEqual([
      {
        output_type: 'display_data',
        metadata: {},
        data: { 'text/plain': 'IntSlider(value=3)' }
      }
    ]);
    expect(
      (view as nbformat.IDisplayData).data[WIDGET_VIEW_MIME]
    ).toBeDefined();
  });

  it('keeps other outputs, and a view that has no fallback', () => {
    const stream = {
      output_type: 'stream',
      name: 'stdout',
      text: 'a'
    } as nbformat.IOutput;
    const only = {
      output_type: 'display_data',
      metadata: {},
      data: { [WIDGET_VIEW_MIME]: { model_id: 'abc' } }
    } as nbformat.IOutput;
    expect(withoutDeadViews([stream, only])).toEqual([stream, only]);
  });
});
