import type { Kernel } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import type { IVariablesUpdatedEvent } from '../src/tokens';
import { VariablesModel } from '../src/variables/model';
import { advancedSnapshot, sortedRows } from '../src/variables/snapshot';
import type { IVariable, IVariablesSnapshot } from '../src/variables/types';

/**
 * The part of a kernel connection the model listens to.
 */
class FakeKernel {
  constructor(readonly id: string) {}
  status: Kernel.Status = 'idle';
  statusChanged = new Signal<this, Kernel.Status>(this);
  iopubMessage = new Signal<this, unknown>(this);
  disposed = new Signal<this, void>(this);

  setStatus(status: Kernel.Status): void {
    this.status = status;
    this.statusChanged.emit(status);
  }

  announce(count: number): void {
    this.iopubMessage.emit({
      header: { msg_type: 'execute_input' },
      content: { execution_count: count, code: '' }
    });
  }

  asConnection(): Kernel.IKernelConnection {
    return this as unknown as Kernel.IKernelConnection;
  }
}

function variable(name: string, overrides: Partial<IVariable> = {}): IVariable {
  return {
    name,
    type: 'int',
    value: '1',
    size: null,
    shape: null,
    ...overrides
  };
}

function snapshot(
  overrides: Partial<IVariablesSnapshot> = {}
): IVariablesSnapshot {
  return {
    kernel_id: 'k1',
    state: 'ok',
    updated_at: null,
    execution_count: 2,
    kernel_busy: false,
    variables: [
      variable('b', { type: 'list', size: 10, shape: [5] }),
      variable('a', { size: 100, shape: [2, 3] }),
      variable('c', { type: 'str' })
    ],
    ...overrides
  };
}

/**
 * A `variables_updated` event; by default one that cannot vouch for the rows.
 */
function news(
  kernelId: string,
  overrides: Partial<IVariablesUpdatedEvent> = {}
): IVariablesUpdatedEvent {
  return {
    kernel_id: kernelId,
    state: 'ok',
    execution_count: 3,
    count: 3,
    stale: false,
    rows_version: null,
    ...overrides
  };
}

class FakeServer {
  answer: IVariablesSnapshot = snapshot();
  failure: Error | null = null;
  calls: string[] = [];
  private _gate: Promise<void> = Promise.resolve();
  private _open: (() => void) | null = null;

  /**
   * Hold answers until {@link release}.
   */
  hold(): void {
    this._gate = new Promise(resolve => (this._open = resolve));
  }

  release(): void {
    this._open?.();
  }

  async variables(kernelId: string): Promise<IVariablesSnapshot> {
    this.calls.push(kernelId);
    await this._gate;
    if (this.failure) {
      throw this.failure;
    }
    return { ...this.answer, kernel_id: kernelId };
  }
}

describe('VariablesModel', () => {
  let server: FakeServer;
  let model: VariablesModel;
  let kernel: FakeKernel;

  beforeEach(() => {
    server = new FakeServer();
    model = new VariablesModel({ requests: server });
    kernel = new FakeKernel('k1');
  });

  afterEach(() => model.dispose());

  it('has no kernel, then loads the kernel snapshot', async () => {
    expect(model.state).toBe('no-kernel');
    model.setKernel(kernel.asConnection());
    expect(model.state).toBe('loading');
    await model.refresh();
    expect(model.state).toBe('ok');
    expect(model.rows.map(row => row.name)).toEqual(['a', 'b', 'c']);
  });

  it('filters on name or type and sorts with unknown values last', async () => {
    model.setKernel(kernel.asConnection());
    await model.refresh();
    model.filter = 'LIST';
    expect(model.rows.map(row => row.name)).toEqual(['b']);
    model.filter = '';
    model.sortBy('size');
    expect(model.rows.map(row => row.name)).toEqual(['b', 'a', 'c']);
    model.sortBy('size');
    expect(model.sort).toEqual({ column: 'size', ascending: false });
    expect(model.rows.map(row => row.name)).toEqual(['a', 'b', 'c']);
    model.sortBy('shape');
    expect(model.rows.map(row => row.name)).toEqual(['b', 'a', 'c']);
  });

  it('says why it cannot read the snapshot', async () => {
    server.failure = new Error('Forbidden');
    model.setKernel(kernel.asConnection());
    await model.refresh();
    expect(model.state).toBe('error');
    expect(model.error).toBe('Forbidden');
  });

  it('is stale when the kernel counted an execution the snapshot lacks', async () => {
    model.setKernel(kernel.asConnection());
    await model.refresh();
    expect(model.stale).toBe(false);
    kernel.announce(3);
    expect(model.stale).toBe(true);
    kernel.setStatus('restarting');
    expect(model.stale).toBe(false);
  });

  it('is busy as the kernel connection says', async () => {
    model.setKernel(kernel.asConnection());
    kernel.setStatus('busy');
    expect(model.busy).toBe(true);
    kernel.setStatus('idle');
    expect(model.busy).toBe(false);
  });

  it('reads again on news for its kernel only, once per burst', async () => {
    model.setKernel(kernel.asConnection());
    await model.refresh();
    server.calls = [];
    server.hold();
    model.handleVariablesUpdated(news('other'));
    model.handleVariablesUpdated(news('k1'));
    model.handleVariablesUpdated(news('k1'));
    const pending = model.refresh();
    server.release();
    await pending;
    await model.refresh();
    // One request in flight, one after it for the news that came meanwhile,
    // and the last explicit refresh.
    expect(server.calls).toEqual(['k1', 'k1', 'k1']);
  });

  it('asks nothing while paused, and catches up when shown', async () => {
    model.setKernel(kernel.asConnection());
    await model.refresh();
    server.calls = [];
    model.paused = true;
    model.handleVariablesUpdated(news('k1'));
    await model.refresh();
    expect(server.calls).toEqual([]);
    model.paused = false;
    await model.refresh();
    expect(server.calls.length).toBeGreaterThan(0);
  });

  it('takes an event that keeps the rows without reading them again', async () => {
    server.answer = snapshot({ rows_version: 'v1', count: 3 });
    model.setKernel(kernel.asConnection());
    await model.refresh();
    const rows = model.rows;
    server.calls = [];
    let changes = 0;
    model.changed.connect(() => changes++);
    kernel.announce(3);
    expect(model.stale).toBe(true);
    model.handleVariablesUpdated(news('k1', { rows_version: 'v1' }));
    expect(server.calls).toEqual([]);
    expect(changes).toBe(2); // the announce, then the event
    expect(model.snapshot?.execution_count).toBe(3);
    expect(model.stale).toBe(false);
    expect(model.rows).toBe(rows); // nothing to sort or rebuild
  });

  it('reads again when the event cannot vouch for the rows', async () => {
    server.answer = snapshot({ rows_version: 'v1' });
    model.setKernel(kernel.asConnection());
    await model.refresh();
    for (const overrides of [
      { rows_version: 'v2' },
      { rows_version: 'v1', stale: true },
      { rows_version: null }
    ]) {
      server.calls = [];
      model.handleVariablesUpdated(news('k1', overrides));
      await model.refresh();
      expect(server.calls[0]).toBe('k1');
    }
    server.calls = [];
    server.hold(); // a read in flight may hold newer rows: read again after it
    const pending = model.refresh();
    model.handleVariablesUpdated(news('k1', { rows_version: 'v1' }));
    server.release();
    await pending;
    expect(server.calls).toEqual(['k1', 'k1']);
  });

  it('drops the kernel when its connection is disposed', () => {
    model.setKernel(kernel.asConnection());
    kernel.disposed.emit();
    expect(model.kernelId).toBeNull();
    expect(model.state).toBe('no-kernel');
  });
});

describe('advancedSnapshot', () => {
  const held = snapshot({ rows_version: 'v1', count: 3, stale: false });

  it('keeps the rows and takes the count and freshness of the event', () => {
    const event = news('k1', { rows_version: 'v1', execution_count: 7 });
    const advanced = advancedSnapshot(held, event);
    expect(advanced).toEqual({
      ...held,
      stale: false,
      reason: null,
      execution_count: 7,
      count: 3
    });
    expect(advanced?.variables).toBe(held.variables);
  });

  it('gives up unless the event vouches for the same fresh rows', () => {
    const cases: Partial<IVariablesUpdatedEvent>[] = [
      { rows_version: 'v2' },
      { rows_version: null },
      { rows_version: 'v1', stale: true },
      { rows_version: 'v1', stale: null },
      { rows_version: 'v1', state: 'pending' }
    ];
    for (const overrides of cases) {
      expect(advancedSnapshot(held, news('k1', overrides))).toBeNull();
    }
    const event = news('k1', { rows_version: 'v1' });
    expect(advancedSnapshot(null, event)).toBeNull();
    expect(advancedSnapshot({ ...held, rows_version: null }, event)).toBeNull();
    expect(advancedSnapshot({ ...held, state: 'pending' }, event)).toBeNull();
    expect(
      advancedSnapshot(held, news('k2', { rows_version: 'v1' }))
    ).toBeNull();
  });
});

describe('sortedRows', () => {
  const rows = ['x10', 'x2', 'B', 'a'].map(name => variable(name));

  it('sorts names as a person reads them', () => {
    const sort = { column: 'name' as const, ascending: true };
    expect(sortedRows(rows, '', sort).map(row => row.name)).toEqual([
      'a',
      'B',
      'x2',
      'x10'
    ]);
    expect(
      sortedRows(rows, 'X', { ...sort, ascending: false }).map(r => r.name)
    ).toEqual(['x10', 'x2']);
  });
});
