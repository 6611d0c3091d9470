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
  it('trusts a cell while a run of the live kernel goes on in it', () => {
    for (const status of ['queued', 'running'] as const) {
      expect(showsRun(page(), shadow({ status, execution_count: null }))).toBe(
        true
      );
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
    const shown = page({ executionCount: 3 });
    expect(showsRun(shown, shadow({ stale: true }))).toBe(false);
    expect(showsRun(shown, shadow({ source: 'print(2)' }))).toBe(false);
    expect(showsRun(shown, { status: 'ok', execution_count: 3 })).toBe(true);
  });
});

describe('trustShown', () => {
  /**
   * An outputs model that creates its outputs again to trust them (as
   * JupyterLab's does), and a cell model writing its changes to the document.
   */
  class Outputs {
    changed = new Signal<this, string>(this);
    private _trusted = false;
    constructor(public length: number) {}
    get trusted(): boolean {
      return this._trusted;
    }
    set trusted(value: boolean) {
      this._trusted = value;
      for (let i = 0; i < this.length; i++) {
        this.changed.emit('set');
      }
    }
  }
  class Cell {
    written: string[] = [];
    constructor(public outputs: Outputs) {
      outputs.changed.connect(this.onOutputsChange, this);
    }
    protected onOutputsChange(_: Outputs, change: string): void {
      this.written.push(change);
    }
  }
  const trust = (cell: Cell): boolean =>
    trustShown(cell as unknown as ICodeCellModel);

  it('trusts shown outputs without writing them into the document', () => {
    const cell = new Cell(new Outputs(2));
    const rendered: string[] = [];
    cell.outputs.changed.connect((_, change) => rendered.push(change));
    expect(trust(cell)).toBe(true);
    expect(cell.outputs.trusted).toBe(true);
    expect(cell.written).toEqual([]);
    expect(rendered).toEqual(['set', 'set']); // the views render again
    cell.outputs.changed.emit('add'); // and later changes are written again
    expect(cell.written).toEqual(['add']);
  });

  it('leaves outputs untrusted when it cannot keep them out of the document', () => {
    const outputs = new Outputs(1);
    const model = { outputs } as unknown as ICodeCellModel;
    expect(trustShown(model)).toBe(false);
    expect(outputs.trusted).toBe(false);
    const empty = new Outputs(0);
    expect(trustShown({ outputs: empty } as unknown as ICodeCellModel)).toBe(
      true
    );
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
