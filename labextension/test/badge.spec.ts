import { DelayedBadge } from '../src/variables/badge';

/**
 * The one property of a node the badge writes (the tests run without a DOM).
 */
const fakeNode = (): HTMLElement => ({ hidden: false }) as HTMLElement;

describe('DelayedBadge', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const make = (): { badge: DelayedBadge; due: number[] } => {
    const due: number[] = [];
    const badge = new DelayedBadge(fakeNode(), 300, () => due.push(Date.now()));
    return { badge, due };
  };

  it('never shows for a condition shorter than the delay', () => {
    const { badge, due } = make();
    badge.set(true);
    jest.advanceTimersByTime(200);
    badge.set(false);
    jest.advanceTimersByTime(1000);
    expect(badge.node.hidden).toBe(true);
    expect(due).toEqual([]);
  });

  it('shows on the render after the delay, and hides at once', () => {
    const { badge, due } = make();
    badge.set(true);
    badge.set(true); // a render meanwhile does not restart the delay
    jest.advanceTimersByTime(299);
    expect(due).toHaveLength(0);
    jest.advanceTimersByTime(1);
    expect(due).toHaveLength(1);
    expect(badge.node.hidden).toBe(true); // written by the owner's render
    badge.set(true);
    expect(badge.node.hidden).toBe(false);
    badge.set(false);
    expect(badge.node.hidden).toBe(true);
  });

  it('waits the whole delay again after the condition ended', () => {
    const { badge } = make();
    badge.set(true);
    jest.advanceTimersByTime(300);
    badge.set(true);
    badge.set(false);
    badge.set(true);
    jest.advanceTimersByTime(100);
    badge.set(true);
    expect(badge.node.hidden).toBe(true);
  });

  it('forgets its timer on dispose', () => {
    const { badge, due } = make();
    badge.set(true);
    badge.dispose();
    jest.advanceTimersByTime(1000);
    expect(due).toEqual([]);
  });
});
