import { fateOfHeldRuns, HeldRuns, isKernelUsable } from '../src/hold/held';

class Item {
  constructor(readonly name: string) {}
  isDisposed = false;
}

describe('isKernelUsable', () => {
  it('needs a connected kernel that answered', () => {
    expect(isKernelUsable(null)).toBe(false);
    expect(isKernelUsable(undefined)).toBe(false);
    for (const status of ['unknown', 'starting', 'restarting', 'dead']) {
      expect(isKernelUsable({ connectionStatus: 'connected', status })).toBe(
        false
      );
    }
    for (const connectionStatus of ['connecting', 'disconnected']) {
      expect(isKernelUsable({ connectionStatus, status: 'idle' })).toBe(false);
    }
    expect(
      isKernelUsable({ connectionStatus: 'connected', status: 'idle' })
    ).toBe(true);
    expect(
      isKernelUsable({ connectionStatus: 'connected', status: 'busy' })
    ).toBe(true);
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

  it('waits while the session has no usable kernel yet', () => {
    const initializing = { isReady: false, hasNoKernel: false, kernel: null };
    expect(fateOfHeldRuns(initializing)).toBe('wait');
    expect(
      fateOfHeldRuns({ isReady: true, hasNoKernel: false, kernel: connecting })
    ).toBe('wait');
  });

  it('sends once the kernel takes requests', () => {
    expect(
      fateOfHeldRuns({ isReady: true, hasNoKernel: false, kernel: idle })
    ).toBe('send');
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
