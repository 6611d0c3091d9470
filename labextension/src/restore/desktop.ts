/**
 * DesktopNotifier: while the page is hidden (another tab or window in front),
 * a run of a notebook open here that took longer than the threshold ends
 * with a desktop notification (the browser's Notification API; opt-in).
 */

import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { ITranslator } from '@jupyterlab/translation';

import type { IExecutionFinishedEvent } from '../tokens';
import { loadBundle } from '../translation';
import { remember } from '../utils';
import {
  DEFAULT_DESKTOP_SETTINGS,
  desktopText,
  IDesktopSettings,
  shouldNotifyDesktop,
  SummaryTranslation
} from './away';
import { goToCell } from './notifier';

/**
 * Runs remembered as notified (bounded).
 */
const MAX_NOTIFIED = 1000;

/**
 * The browser's Notification API (the name `Notification` is JupyterLab's).
 */
function desktopApi(): typeof window.Notification | null {
  return typeof window !== 'undefined' && 'Notification' in window
    ? window.Notification
    : null;
}

export class DesktopNotifier {
  constructor(options: DesktopNotifier.IOptions) {
    this._tracker = options.tracker;
    this._activate = options.activate;
    this._trans = loadBundle(options.translator);
  }

  /**
   * The settings, applied live; turning notifications on asks the browser
   * for permission when it was not asked yet.
   */
  get settings(): IDesktopSettings {
    return this._settings;
  }
  set settings(value: IDesktopSettings) {
    const turnedOn =
      value.desktopNotifications && !this._settings.desktopNotifications;
    this._settings = value;
    const api = desktopApi();
    if (turnedOn && api?.permission === 'default') {
      void api.requestPermission().catch(reason => {
        console.warn('jupyter-sidecar-ext: notification permission', reason);
      });
    } else if (turnedOn && api?.permission === 'denied') {
      console.warn(
        'jupyter-sidecar-ext: desktop notifications are on, but this browser blocks them for this site'
      );
    }
  }

  /**
   * An `execution_finished` event of the server.
   */
  handle(event: IExecutionFinishedEvent): void {
    const panel = this._panelOf(event.kernel_id);
    const api = desktopApi();
    const notify = shouldNotifyDesktop(event, {
      settings: this._settings,
      hidden: document.visibilityState === 'hidden',
      permission: api?.permission ?? null,
      kernelShown: panel !== null,
      notified: this._notified.has(event.msg_id)
    });
    if (!notify || !api || !panel) {
      return;
    }
    remember(this._notified, event.msg_id, MAX_NOTIFIED);
    const name = panel.context.localPath.split('/').pop() ?? '';
    try {
      const shown = new api(name, {
        body: desktopText(event, this._trans),
        tag: `jupyter-sidecar-ext:${event.msg_id}`
      });
      shown.onclick = () => {
        window.focus();
        goToCell(panel, event.cell_id, this._activate);
        shown.close();
      };
    } catch (reason) {
      // e.g. Chrome on Android only notifies through a service worker
      console.warn('jupyter-sidecar-ext: desktop notification failed', reason);
    }
  }

  private _panelOf(kernelId: string): NotebookPanel | null {
    return (
      this._tracker.find(
        panel => panel.sessionContext.session?.kernel?.id === kernelId
      ) ?? null
    );
  }

  private _tracker: INotebookTracker;
  private _activate: (panel: NotebookPanel) => void;
  private _trans: SummaryTranslation;
  private _settings: IDesktopSettings = DEFAULT_DESKTOP_SETTINGS;
  private _notified = new Set<string>();
}

export namespace DesktopNotifier {
  export interface IOptions {
    tracker: INotebookTracker;
    activate: (panel: NotebookPanel) => void;
    translator?: ITranslator;
  }
}
