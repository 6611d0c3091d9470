/**
 * RestoreManager: one NotebookRestorer per open notebook, the
 * `restoreOutputs` setting applied to all of them live, and the server's
 * `cell_changed` events routed to them.
 */

import type { NotebookPanel } from '@jupyterlab/notebook';
import type { ITranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import type { ICellChangedEvent } from '../tokens';
import { AnnouncedRuns, AwayNotifier } from './notifier';
import { NotebookRestorer } from './restorer';
import type { IRestoreReport, RestoreRequests } from './types';

export class RestoreManager implements IDisposable {
  constructor(options: RestoreManager.IOptions) {
    this._enabled = options.enabled;
    this._sharedDocuments = options.sharedDocuments ?? false;
    this._requests = options.requests;
    this._translator = options.translator;
    this._activate = options.activate ?? null;
    this._awaySummary = options.awaySummary ?? true;
    this._announced = new AnnouncedRuns(options.storage ?? null);
  }

  /**
   * Emitted after each synchronisation of any open notebook.
   */
  get restored(): ISignal<
    this,
    { panel: NotebookPanel; report: IRestoreReport }
  > {
    return this._restored;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The `restoreOutputs` setting; changes apply to open notebooks at once.
   */
  get enabled(): boolean {
    return this._enabled;
  }
  set enabled(value: boolean) {
    this._enabled = value;
    for (const restorer of this._restorers.values()) {
      restorer.enabled = value;
    }
  }

  /**
   * The `awaySummary` setting: whether pages say what ran while no page of
   * their kernel was connected; applies live.
   */
  get awaySummary(): boolean {
    return this._awaySummary;
  }
  set awaySummary(value: boolean) {
    this._awaySummary = value;
  }

  /**
   * Start restoring a notebook panel (once per document: views share it).
   */
  add(panel: NotebookPanel): void {
    const context = panel.context;
    if (this._isDisposed || this._restorers.has(context)) {
      return;
    }
    const restorer = new NotebookRestorer({
      panel,
      enabled: this._enabled,
      sharedDocuments: this._sharedDocuments,
      requests: this._requests,
      translator: this._translator,
      away: this._activate
        ? this._awayNotifier(panel, this._activate)
        : undefined
    });
    restorer.restored.connect((_, report) =>
      this._restored.emit({ panel, report })
    );
    this._restorers.set(context, restorer);
    context.disposed.connect(() => {
      this._restorers.delete(context);
      restorer.dispose();
    });
  }

  /**
   * A `cell_changed` event of the server: for every open notebook.
   */
  handleCellChanged(event: ICellChangedEvent): void {
    for (const restorer of this._restorers.values()) {
      restorer.handleCellChanged(event);
    }
  }

  /**
   * The away summary of a panel, silent while the setting is off.
   */
  private _awayNotifier(
    panel: NotebookPanel,
    activate: (panel: NotebookPanel) => void
  ): NotebookRestorer.IAway {
    const notifier = new AwayNotifier({
      panel,
      announced: this._announced,
      activate,
      translator: this._translator
    });
    return {
      announce: cells => {
        if (this._awaySummary) {
          notifier.announce(cells);
        }
      }
    };
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    for (const restorer of this._restorers.values()) {
      restorer.dispose();
    }
    this._restorers.clear();
    Signal.clearData(this);
  }

  private _enabled: boolean;
  private _sharedDocuments: boolean;
  private _requests: RestoreRequests;
  private _translator?: ITranslator;
  private _activate: ((panel: NotebookPanel) => void) | null;
  private _announced: AnnouncedRuns;
  private _awaySummary: boolean;
  private _isDisposed = false;
  private _restorers = new Map<NotebookPanel['context'], NotebookRestorer>();
  private _restored = new Signal<
    this,
    { panel: NotebookPanel; report: IRestoreReport }
  >(this);
}

export namespace RestoreManager {
  export interface IOptions {
    enabled: boolean;
    /**
     * Whether the server writes cells whose page is gone into shared
     * (real-time collaboration) documents: the `shared_documents` feature.
     */
    sharedDocuments?: boolean;
    requests: RestoreRequests;
    translator?: ITranslator;
    /**
     * Bring a notebook panel to the front; given, pages say what ran while
     * no page of their kernel was connected (the away summary).
     */
    activate?: (panel: NotebookPanel) => void;
    /**
     * Initial value of {@link RestoreManager.awaySummary} (default true).
     */
    awaySummary?: boolean;
    /**
     * Where runs already announced are remembered (localStorage).
     */
    storage?: Storage | null;
  }
}
