import { QuietRefresh } from '../src/variables/quiet';

describe('QuietRefresh', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('reads once after the kernel stays quiet, however many snapshots came', () => {
    const read: string[] = [];
    const quiet = new QuietRefresh(400, id => read.push(id));
    quiet.updated('k1');
    jest.advanceTimersByTime(300);
    quiet.updated('k1');
    jest.advanceTimersByTime(300);
    expect(read).toEqual([]);
    jest.advanceTimersByTime(100);
    expect(read).toEqual(['k1']);
    jest.advanceTimersByTime(1000);
    expect(read).toEqual(['k1']);
  });

  it('waits again when an execution starts, and only for a pending read', () => {
    const read: string[] = [];
    const quiet = new QuietRefresh(400, id => read.push(id));
    quiet.started('k1'); // nothing pending: nothing to read
    jest.advanceTimersByTime(1000);
    expect(read).toEqual([]);
    quiet.updated('k1');
    jest.advanceTimersByTime(350);
    quiet.started('k1');
    jest.advanceTimersByTime(350);
    expect(read).toEqual([]);
    jest.advanceTimersByTime(50);
    expect(read).toEqual(['k1']);
  });

  it('keeps kernels apart and forgets everything on dispose', () => {
    const read: string[] = [];
    const quiet = new QuietRefresh(400, id => read.push(id));
    quiet.updated('k1');
    quiet.updated('k2');
    quiet.started('k2');
    jest.advanceTimersByTime(400);
    expect(read).toEqual(['k1', 'k2']);
    quiet.updated('k1');
    quiet.dispose();
    jest.advanceTimersByTime(1000);
    expect(read).toEqual(['k1', 'k2']);
  });
});
