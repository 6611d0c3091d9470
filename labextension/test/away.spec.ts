import {
  DEFAULT_DESKTOP_SETTINGS,
  desktopText,
  errorName,
  IDesktopContext,
  shouldNotifyDesktop,
  summarize,
  summaryText,
  SummaryTranslation,
  unannounced
} from '../src/restore/away';
import { asExecutionFinished, EXECUTION_FINISHED_SCHEMA } from '../src/events';
import type { CellStatus, IShadowCell } from '../src/restore/types';
import type { IExecutionFinishedEvent } from '../src/tokens';

/**
 * gettext as the null translator does it: %1, %2... replaced, plural by n.
 */
const trans: SummaryTranslation = {
  __: (msg: string, ...args: unknown[]) =>
    msg.replace(/%(\d)/g, (_, i) => String(args[Number(i) - 1])),
  _n: (one: string, many: string, n: number, ...args: unknown[]) =>
    (n === 1 ? one : many).replace(/%(\d)/g, (_, i) =>
      String([n, ...args][Number(i) - 1])
    )
};

function cell(
  id: string,
  status: CellStatus,
  count: number | null,
  ended: string,
  options: Partial<IShadowCell> = {}
): IShadowCell {
  return {
    id,
    msg_id: `m-${id}`,
    source: '',
    status,
    execution_count: count,
    outputs:
      status === 'error'
        ? [
            { output_type: 'stream', name: 'stdout', text: 'x' },
            {
              output_type: 'error',
              ename: 'ZeroDivisionError',
              evalue: 'division by zero',
              traceback: []
            }
          ]
        : [],
    started: ended,
    ended,
    seq: 1,
    truncated: false,
    run: 0,
    stale: false,
    gap: false,
    unwatched: true,
    ...options
  };
}

describe('away summary', () => {
  const record = [
    cell('c', 'ok', 8, '2026-01-01T00:00:03.000000Z'),
    cell('a', 'ok', 6, '2026-01-01T00:00:01.000000Z'),
    cell('b', 'error', 7, '2026-01-01T00:00:02.000000Z'),
    cell('seen', 'ok', 5, '2026-01-01T00:00:00.000000Z', { unwatched: false }),
    cell('running', 'running', 9, '', { unwatched: false }),
    cell('old', 'ok', 4, '2025-12-31T00:00:00.000000Z', {
      unwatched: undefined
    })
  ];

  it('takes the runs nobody saw end, not announced yet, in the order they ended', () => {
    expect(unannounced(record, new Set()).map(c => c.id)).toEqual([
      'a',
      'b',
      'c'
    ]);
    expect(unannounced(record, new Set(['m-b'])).map(c => c.id)).toEqual([
      'a',
      'c'
    ]);
  });

  it('says how many finished and names the failures by prompt', () => {
    const summary = summarize(unannounced(record, new Set()))!;
    expect(summary.msgIds).toEqual(['m-a', 'm-b', 'm-c']);
    expect(summary.targetCellId).toBe('b'); // the first failed one
    expect(summaryText(summary, trans)).toBe(
      '3 cells finished, 1 failed: [7] ZeroDivisionError'
    );
  });

  it('goes to the last finished cell when none failed', () => {
    const summary = summarize([record[1], record[0]])!;
    expect(summary.targetCellId).toBe('c');
    expect(summaryText(summary, trans)).toBe('2 cells finished');
    expect(summaryText(summarize([record[1]])!, trans)).toBe('1 cell finished');
  });

  it('counts aborted runs and names at most three failures', () => {
    const failures = [1, 2, 3, 4].map(n =>
      cell(`e${n}`, 'error', n, `2026-01-01T00:00:0${n}.000000Z`)
    );
    failures[3].outputs = []; // e.g. an interrupted run without its traceback
    const aborted = cell('x', 'aborted', null, '2026-01-01T00:00:09.000000Z');
    const summary = summarize([...failures, aborted])!;
    expect(summaryText(summary, trans)).toBe(
      '5 cells finished, 4 failed: [1] ZeroDivisionError, [2] ZeroDivisionError, ' +
        '[3] ZeroDivisionError, …, 1 aborted'
    );
    expect(errorName(failures[3])).toBeNull();
    expect(summary.failures[3]).toEqual({
      cellId: 'e4',
      executionCount: 4,
      ename: null
    });
  });

  it('has nothing to say when nothing ran unwatched', () => {
    expect(summarize(unannounced(record.slice(3), new Set()))).toBeNull();
  });
});

describe('desktop notifications', () => {
  const event: IExecutionFinishedEvent = {
    kernel_id: 'k',
    cell_id: 'c',
    msg_id: 'm',
    status: 'error',
    execution_count: 7,
    ename: 'ZeroDivisionError',
    duration: 42.4,
    unwatched: false
  };
  const context: IDesktopContext = {
    settings: { desktopNotifications: true, desktopNotificationSeconds: 30 },
    hidden: true,
    permission: 'granted',
    kernelShown: true,
    notified: false
  };

  it('notifies a long run that ends while the page is hidden', () => {
    expect(shouldNotifyDesktop(event, context)).toBe(true);
    expect(desktopText(event, trans)).toBe('[7] ZeroDivisionError after 42 s');
    expect(desktopText({ ...event, status: 'ok' }, trans)).toBe(
      '[7] finished in 42 s'
    );
  });

  it('is off by default, and needs every condition', () => {
    expect(DEFAULT_DESKTOP_SETTINGS).toEqual({
      desktopNotifications: false,
      desktopNotificationSeconds: 30
    });
    const denied: Array<Partial<IDesktopContext>> = [
      { settings: DEFAULT_DESKTOP_SETTINGS },
      { hidden: false },
      { permission: 'default' },
      { permission: 'denied' },
      { permission: null },
      { kernelShown: false },
      { notified: true }
    ];
    for (const change of denied) {
      expect(shouldNotifyDesktop(event, { ...context, ...change })).toBe(false);
    }
    expect(shouldNotifyDesktop({ ...event, duration: 29.9 }, context)).toBe(
      false
    );
    expect(shouldNotifyDesktop({ ...event, duration: null }, context)).toBe(
      false
    );
    const zero = { desktopNotifications: true, desktopNotificationSeconds: 0 };
    expect(
      shouldNotifyDesktop(
        { ...event, duration: 0.01 },
        { ...context, settings: zero }
      )
    ).toBe(true);
  });

  it('reads execution_finished events', () => {
    expect(
      asExecutionFinished({
        schema_id: EXECUTION_FINISHED_SCHEMA,
        kernel_id: 'k',
        cell_id: 'c',
        msg_id: 'm',
        status: 'error',
        execution_count: 7,
        ename: 'ZeroDivisionError',
        started: '2026-01-01T00:00:00.000000Z',
        ended: '2026-01-01T00:00:42.400000Z',
        duration: 42.4,
        unwatched: false
      })
    ).toEqual(event);
    expect(
      asExecutionFinished({
        schema_id: EXECUTION_FINISHED_SCHEMA,
        kernel_id: 'k',
        cell_id: 'c',
        msg_id: 'm',
        status: 'running'
      })
    ).toBeNull();
    expect(asExecutionFinished({ schema_id: 'other', kernel_id: 'k' })).toBe(
      null
    );
  });
});
