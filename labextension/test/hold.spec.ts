import { fateOfHeldRuns, HeldRuns, isKernelUsable } from '../src/hold/held';

class Item {
  constructor(readonly name: string) {}
  isDisposed = false;
}

describe('isKernelUsable', () => {
  it('takes the connection as soon as it exists: it queues until connected', () => {
    expect(isKernelUsable(null)).toBe(false);
    expect(isKernelUsable(undefined)).toBe(false);
    expect(
      isKernelUsable({ connectionStatus: 'connecting', status: 'unknown' })
    ).toBe(true);
    for (const status of ['starting', 'idle', 'busy']) {
      expect(isKernelUsable({ connectionStatus: 'connected', status })).toBe(
        true
      );
    }
    expect(
      isKernelUsable({ connectionStatus: 'connected', status: 'dead' })
    ).toBe(false);
    expect(
      isKernelUsable({ connectionStatus: 'disconnected', status: 'idle' })
    ).toBe(false);
  });
});

describe('HeldRuns', () => {
  it('releases in order, each as often as held, once', () => {
    const held = new HeldRuns<Item>();
    const [a, b] = [new Item('a'), new Item('b')];
    held.hold(a);
    held.hold(b);
    held.hold(a);
    expect(held.size).toBe(3);
    expect(held.has(b)).toBe(true);
    expect(held.release().map(item => item.name)).toEqual(['a', 'b', 'a']);
    expect(held.size).toBe(0);
    expect(held.release()).toEqual([]);
  });

  it('skips runs whose cell was deleted meanwhile', () => {
    const held = new HeldRuns<Item>();
    const [a, b] = [new Item('a'), new Item('b')];
    held.hold(a);
    held.hold(b);
    a.isDisposed = true;
    expect(held.release()).toEqual([b]);
  });
});

describe('fateOfHeldRuns', () => {
  const idle = { connectionStatus: 'connected', status: 'idle' };
  const connecting = { connectionStatus: 'connecting', status: 'unknown' };

  it('waits while the session has no kernel connection yet', () => {
    const initializing = { isReady: false, hasNoKernel: false, kernel: null };
    expect(fateOfHeldRuns(initializing)).toBe('wait');
    const givenUp = { connectionStatus: 'disconnected', status: 'unknown' };
    expect(
      fateOfHeldRuns({ isReady: true, hasNoKernel: false, kernel: givenUp })
    ).toBe('wait');
  });

  it('sends once a kernel connection exists, connected or connecting', () => {
    for (const kernel of [idle, connecting]) {
      expect(
        fateOfHeldRuns({ isReady: false, hasNoKernel: false, kernel })
      ).toBe('send');
    }
  });

  it('drops them when no kernel will come', () => {
    expect(
      fateOfHeldRuns({ isReady: true, hasNoKernel: true, kernel: null })
    ).toBe('drop');
    const dead = { connectionStatus: 'disconnected', status: 'dead' };
    expect(
      fateOfHeldRuns({ isReady: true, hasNoKernel: false, kernel: dead })
    ).toBe('drop');
  });
});
