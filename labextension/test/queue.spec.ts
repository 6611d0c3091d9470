import { QueueModel } from '../src/queue/model';
import type { IQueueEntry, IQueueState } from '../src/queue/types';

/**
 * An error as `ServerConnection.ResponseError` carries its status.
 */
function httpError(status: number, message = `HTTP ${status}`): Error {
  return Object.assign(new Error(message), { response: { status } });
}

function entry(cellId: string, msgId = `msg-${cellId}`): IQueueEntry {
  return {
    msg_id: msgId,
    cell_id: cellId,
    code: 'pass',
    session: 's',
    source: 'websocket',
    queued_at: '2026-01-01T00:00:00Z'
  };
}

class FakeServer {
  state: IQueueState = {
    kernel_id: 'k1',
    enabled: true,
    running: entry('running'),
    queued: [entry('a'), entry('b')]
  };
  readFailure: Error | null = null;
  deleteFailure: Error | null = null;
  deleted: string[] = [];

  async queue(kernelId: string): Promise<IQueueState> {
    if (this.readFailure) {
      throw this.readFailure;
    }
    return { ...this.state, kernel_id: kernelId };
  }

  async removeFromQueue(kernelId: string, msgId: string): Promise<void> {
    if (this.deleteFailure) {
      throw this.deleteFailure;
    }
    this.deleted.push(msgId);
    this.state = {
      ...this.state,
      queued: this.state.queued.filter(item => item.msg_id !== msgId)
    };
  }
}

describe('QueueModel', () => {
  let server: FakeServer;
  let model: QueueModel;
  let changes: string[];

  beforeEach(() => {
    server = new FakeServer();
    model = new QueueModel({ requests: server });
    changes = [];
    model.changed.connect((_, kernelId) => changes.push(kernelId));
  });

  afterEach(() => model.dispose());

  it('caches the queue of a kernel', async () => {
    expect(model.hasQueued('k1')).toBe(false);
    await model.refresh('k1');
    expect(model.hasQueued('k1')).toBe(true);
    expect(model.queuedEntry('k1', 'b')?.msg_id).toBe('msg-b');
    expect(model.queuedEntry('k1', 'running')).toBeUndefined();
    expect(changes).toEqual(['k1']);
  });

  it('reads a server without the queue as an empty queue', async () => {
    await model.refresh('k1');
    server.readFailure = httpError(404);
    expect(await model.refresh('k1')).toBeNull();
    expect(model.hasQueued('k1')).toBe(false);
  });

  it('removes queued cells and says why others were not', async () => {
    const results = await model.remove('k1', ['a', 'running', 'gone']);
    expect(results).toEqual([
      { cellId: 'a', removed: true },
      { cellId: 'running', removed: false, failure: 'running' },
      { cellId: 'gone', removed: false, failure: 'not-queued' }
    ]);
    expect(server.deleted).toEqual(['msg-a']);
    expect(model.queuedEntry('k1', 'a')).toBeUndefined();
    expect(model.queuedEntry('k1', 'b')).toBeDefined();
  });

  it('maps the server refusing a removal to a failure', async () => {
    server.deleteFailure = httpError(409, 'already running');
    expect(await model.remove('k1', ['a'])).toEqual([
      {
        cellId: 'a',
        removed: false,
        failure: 'running',
        message: 'already running'
      }
    ]);
    server.deleteFailure = httpError(500, 'boom');
    const [result] = await model.remove('k1', ['a']);
    expect(result.failure).toBe('error');
  });

  it('forgets a kernel', async () => {
    await model.refresh('k1');
    model.forget('k1');
    expect(model.hasQueued('k1')).toBe(false);
    expect(changes).toEqual(['k1', 'k1']);
  });
});
