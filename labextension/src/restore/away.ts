/**
 * What ran while nobody watched: the summary a page shows when it reopens or
 * reconnects a notebook whose cells finished while no page of its kernel was
 * connected, and when a finished run earns a desktop notification. Pure (no
 * JupyterLab imports), tested with jest.
 */

import type { TranslationBundle } from '@jupyterlab/translation';

import type { IExecutionFinishedEvent } from '../tokens';
import { FINAL_STATUSES, IShadowCell } from './types';

/**
 * The translation calls the summary needs.
 */
export type SummaryTranslation = Pick<TranslationBundle, '__' | '_n'>;

/**
 * One failed run, as the summary names it.
 */
export interface IFailure {
  cellId: string;
  executionCount: number | null;
  /**
   * Exception name (`ename` of its last error output), or null.
   */
  ename: string | null;
}

/**
 * What finished while nobody watched, in the order the runs ended.
 */
export interface IAwaySummary {
  /**
   * msg_ids of the runs summed up (remembered as announced).
   */
  msgIds: string[];
  finished: number;
  failures: IFailure[];
  aborted: number;
  /**
   * The cell "Go to cell" shows: the first failed one, else the last finished.
   */
  targetCellId: string;
}

/**
 * Failures named in the text at most; more are counted only.
 */
const MAX_NAMED_FAILURES = 3;

/**
 * The recorded runs nobody saw finish and this browser has not announced yet,
 * in the order they ended.
 */
export function unannounced(
  cells: readonly IShadowCell[],
  announced: ReadonlySet<string>
): IShadowCell[] {
  return cells
    .filter(
      cell =>
        cell.unwatched === true &&
        FINAL_STATUSES.has(cell.status) &&
        !announced.has(cell.msg_id)
    )
    .sort((a, b) => (a.ended ?? '').localeCompare(b.ended ?? ''));
}

/**
 * The exception name of a recorded cell's last error output, or null.
 */
export function errorName(cell: IShadowCell): string | null {
  for (let i = cell.outputs.length - 1; i >= 0; i--) {
    const output = cell.outputs[i];
    if (output.output_type === 'error') {
      return typeof output.ename === 'string' ? output.ename : null;
    }
  }
  return null;
}

/**
 * Sum up runs (from {@link unannounced}); null when there are none.
 */
export function summarize(cells: readonly IShadowCell[]): IAwaySummary | null {
  if (!cells.length) {
    return null;
  }
  const failures: IFailure[] = cells
    .filter(cell => cell.status === 'error')
    .map(cell => ({
      cellId: cell.id,
      executionCount: cell.execution_count,
      ename: errorName(cell)
    }));
  return {
    msgIds: cells.map(cell => cell.msg_id),
    finished: cells.length,
    failures,
    aborted: cells.filter(cell => cell.status === 'aborted').length,
    targetCellId: failures[0]?.cellId ?? cells[cells.length - 1].id
  };
}

/**
 * "3 cells finished, 1 failed: [7] ZeroDivisionError".
 */
export function summaryText(
  summary: IAwaySummary,
  trans: SummaryTranslation
): string {
  const parts = [
    trans._n('%1 cell finished', '%1 cells finished', summary.finished)
  ];
  const failed = summary.failures.length;
  if (failed) {
    const named = summary.failures
      .slice(0, MAX_NAMED_FAILURES)
      .map(failure => describeFailure(failure, trans));
    if (failed > MAX_NAMED_FAILURES) {
      named.push('…');
    }
    parts.push(
      trans._n('%1 failed: %2', '%1 failed: %2', failed, named.join(', '))
    );
  }
  if (summary.aborted) {
    parts.push(trans._n('%1 aborted', '%1 aborted', summary.aborted));
  }
  return parts.join(', ');
}

/**
 * "[7] ZeroDivisionError", as the cell's prompt and error name.
 */
function describeFailure(failure: IFailure, trans: SummaryTranslation): string {
  const prompt = `[${failure.executionCount ?? ' '}]`;
  return `${prompt} ${failure.ename ?? trans.__('error')}`;
}

/**
 * Settings of desktop notifications (`schema/plugin.json`).
 */
export interface IDesktopSettings {
  /**
   * Opt-in: notify the desktop when a run ends while the page is hidden.
   */
  desktopNotifications: boolean;
  /**
   * Runs shorter than this (seconds) are not worth a desktop notification.
   */
  desktopNotificationSeconds: number;
}

/**
 * Defaults of {@link IDesktopSettings}, matching the schema.
 */
export const DEFAULT_DESKTOP_SETTINGS: IDesktopSettings = {
  desktopNotifications: false,
  desktopNotificationSeconds: 30
};

/**
 * What the desktop notification decision looks at besides the event.
 */
export interface IDesktopContext {
  settings: IDesktopSettings;
  /**
   * `document.visibilityState === 'hidden'`: the user looks elsewhere.
   */
  hidden: boolean;
  /**
   * The browser's `Notification.permission` (null: no Notification API).
   */
  permission: string | null;
  /**
   * Whether a notebook open in this page uses the event's kernel.
   */
  kernelShown: boolean;
  /**
   * Whether this page already notified this run.
   */
  notified: boolean;
}

/**
 * Whether a finished run earns a desktop notification: opted in, allowed by
 * the browser, the page hidden, the kernel's notebook open here, the run long
 * enough, and not notified yet.
 */
export function shouldNotifyDesktop(
  event: IExecutionFinishedEvent,
  context: IDesktopContext
): boolean {
  const { settings } = context;
  return (
    settings.desktopNotifications &&
    context.permission === 'granted' &&
    context.hidden &&
    context.kernelShown &&
    !context.notified &&
    event.duration !== null &&
    event.duration >= Math.max(0, settings.desktopNotificationSeconds)
  );
}

/**
 * The body of a desktop notification: "[7] ZeroDivisionError after 42 s".
 */
export function desktopText(
  event: IExecutionFinishedEvent,
  trans: SummaryTranslation
): string {
  const prompt = `[${event.execution_count ?? ' '}]`;
  const seconds = Math.round(event.duration ?? 0);
  switch (event.status) {
    case 'error':
      return trans.__(
        '%1 %2 after %3 s',
        prompt,
        event.ename ?? trans.__('error'),
        seconds
      );
    case 'aborted':
      return trans.__('%1 aborted after %2 s', prompt, seconds);
    default:
      return trans.__('%1 finished in %2 s', prompt, seconds);
  }
}
