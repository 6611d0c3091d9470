/**
 * NotebookRestorer: puts back into a notebook what its kernel's sidecar
 * recorded while no page was watching, follows executions an earlier page
 * started, and offers outputs recorded by gone kernels.
 *
 * One per document context (all views of a notebook share its model).
 */

import { ICodeCellModel, isCodeCellModel } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import type { ITranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelFollower } from './follower';
import { PendingInputs } from './input';
import { OutputOffer } from './offer';
import { RunTrust } from './trust';
import {
  decide,
  IKernelRun,
  pageCell,
  putRecorded,
  showsRun,
  trustShown
} from './outputs';
import type { ICellChangedEvent } from '../tokens';
import { remember } from '../utils';
import {
  FINAL_STATUSES,
  IRestoreReport,
  IShadowCell,
  RestoreRequests,
  RestoreState
} from './types';

/**
 * Recorded executions remembered as handled per notebook (bounded).
 */
const MAX_HANDLED = 10_000;

/**
 * Delay over which triggers of a synchronisation (notebook opened, kernel
 * changed, connected) share one.
 */
const SYNC_DEBOUNCE_MS = 50;

export class NotebookRestorer implements IDisposable {
  constructor(options: NotebookRestorer.IOptions) {
    this._panel = options.panel;
    this._enabled = options.enabled;
    this._sharedDocuments = options.sharedDocuments ?? false;
    this._requests = options.requests;
    this._away = options.away ?? null;
    this._offer = new OutputOffer({
      cells: () => this._codeCells(),
      requests: options.requests,
      translator: options.translator
    });
    this._offer.accepted.connect((_, filled) =>
      this._restored.emit({
        kernelId: this._follower?.kernel.id ?? null,
        reason: 'offer accepted',
        filled,
        followed: [],
        skipped: [],
        offered: [],
        shared: this._shared
      })
    );
    this._inputs = new PendingInputs({
      notebook: this._panel.content,
      answer: (kernelId, value) => this._requests.answerInput(kernelId, value),
      translator: options.translator
    });
    this._setState(this._enabled ? 'syncing' : 'off');
    const sessionContext = this._panel.sessionContext;
    sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    void Promise.all([this._panel.context.ready, sessionContext.ready])
      .then(() => {
        const model = this._panel.content.model;
        if (!this.isDisposed && model) {
          this._trust = new RunTrust(
            model,
            () => this._enabled && this._shared && this._follower !== null
          );
        }
        if (!this.isDisposed) {
          this._wire(sessionContext.session?.kernel ?? null);
          return this.sync('opened');
        }
      })
      .catch(reason => console.warn('jupyter-sidecar-ext:', reason));
  }

  /**
   * Emitted after each synchronisation, and when offered outputs are restored.
   */
  get restored(): ISignal<this, IRestoreReport> {
    return this._restored;
  }

  get state(): RestoreState {
    return this._state;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Whether restoring is on (the `restoreOutputs` setting); applies live.
   */
  get enabled(): boolean {
    return this._enabled;
  }
  set enabled(value: boolean) {
    if (value === this._enabled) {
      return;
    }
    this._enabled = value;
    if (value) {
      void this.sync('enabled');
    } else {
      this._follower?.stopAll();
      this._offer.dismiss();
      this._inputs.hideAll();
      this._setState('off');
    }
  }

  /**
   * Compare the notebook with its kernel's record and restore what is missing.
   * Calls are serialized; calls made before a pending one starts share it.
   */
  sync(reason: string): Promise<void> {
    this._reasons.add(reason);
    if (this._pending) {
      return this._pending;
    }
    const run = this._chain.then(async () => {
      await new Promise(resolve => setTimeout(resolve, SYNC_DEBOUNCE_MS));
      this._pending = null;
      const reasons = [...this._reasons].join(', ');
      this._reasons.clear();
      try {
        await this._sync(reasons);
      } catch (error) {
        console.warn('jupyter-sidecar-ext: restoring outputs failed', error);
        this._setState(this._enabled ? 'synced' : 'off');
      }
    });
    this._pending = run;
    this._chain = run;
    return run;
  }

  /**
   * A `cell_changed` event from the server's event bus.
   */
  handleCellChanged(event: ICellChangedEvent): void {
    const follower = this._follower;
    if (follower?.kernel.id === event.kernel_id) {
      if (FINAL_STATUSES.has(event.status)) {
        follower.settle(event.msg_id);
      }
      if (this._enabled && !follower.owns(event.msg_id)) {
        this._inputs.update(
          event.kernel_id,
          event.cell_id,
          event.msg_id,
          FINAL_STATUSES.has(event.status) ? null : event.input_request
        );
      }
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this._wire(null);
    this._trust?.dispose();
    this._inputs.hideAll();
    this._offer.dispose();
    Signal.clearData(this);
  }

  private async _sync(reason: string): Promise<void> {
    const follower = this._follower;
    if (!this._enabled || this.isDisposed) {
      return;
    }
    this._setState('syncing');
    const report: IRestoreReport = {
      kernelId: follower?.kernel.id ?? null,
      reason,
      filled: [],
      followed: [],
      skipped: [],
      offered: [],
      shared: this._shared
    };
    const recorded = new Set<string>();
    if (follower) {
      const capture = follower.startCapture();
      let notebook;
      try {
        notebook = await this._requests.notebook(follower.kernel.id);
      } finally {
        follower.endCapture(capture);
      }
      if (follower !== this._follower || !this._enabled || this.isDisposed) {
        return; // the kernel changed (a new synchronisation is queued)
      }
      const cells = this._codeCells();
      const following: Array<Promise<void>> = [];
      const inputs: IShadowCell[] = [];
      for (const shadow of notebook?.cells ?? []) {
        if (!shadow.stale && !follower.owns(shadow.msg_id)) {
          inputs.push(shadow);
        }
        if (!shadow.stale) {
          recorded.add(shadow.id);
        }
        if (report.shared) {
          this._trustRun(cells.get(shadow.id), shadow);
          continue; // the server writes it into the shared document
        }
        if (follower.isFollowing(shadow.msg_id)) {
          if (FINAL_STATUSES.has(shadow.status)) {
            follower.settle(shadow.msg_id); // its idle status was missed?
          }
          continue;
        }
        const model = cells.get(shadow.id);
        if (!model) {
          continue;
        }
        const decision = follower.owns(shadow.msg_id)
          ? ({ action: 'skip', reason: 'owned' } as const)
          : this._handled.has(shadow.msg_id)
            ? ({ action: 'skip', reason: 'handled' } as const)
            : decide(pageCell(model), shadow);
        switch (decision.action) {
          case 'skip':
            report.skipped.push({ cellId: shadow.id, reason: decision.reason });
            if (decision.reason !== 'busy') {
              this._handle(shadow.msg_id);
            }
            break;
          case 'follow': {
            report.followed.push(shadow.id);
            const ambiguous = (capture.get(shadow.msg_id) ?? 0) > 0;
            following.push(follower.follow(model, shadow, ambiguous));
            break;
          }
          case 'fill':
            report.filled.push(shadow.id);
            putRecorded(model, shadow.outputs);
            model.executionCount = shadow.execution_count;
            this._handle(shadow.msg_id);
            break;
          case 'same':
            this._handle(shadow.msg_id);
            break;
        }
      }
      await Promise.all(following);
      this._showInputs(follower.kernel.id, inputs);
      this._away?.announce(notebook?.cells ?? []);
    }
    report.offered = await this._offer.update(
      this._panel.sessionContext.path,
      follower?.kernel.id ?? null,
      recorded
    );
    if (!this._enabled) {
      this._offer.dismiss(); // turned off meanwhile
    } else if (!this.isDisposed) {
      this._setState('synced');
      logReport(this._panel.context.localPath, report);
      this._restored.emit(report);
    }
  }

  /**
   * In a shared document, trust a cell that shows a run of the session's
   * kernel another writer put there (see `showsRun`), finished or still going,
   * in this page only: a page opened after the run started (`RunTrust` trusts
   * runs from their start). The outputs are trusted in place (`trustShown`):
   * the page keeps following what the writer appends.
   */
  private _trustRun(model: ICodeCellModel | undefined, run: IKernelRun): void {
    if (model && !model.outputs.trusted && showsRun(pageCell(model), run)) {
      trustShown(model);
    }
  }

  /**
   * Input boxes for the runs that wait for input (after following started:
   * restoring a cell's outputs clears its output area, boxes included).
   */
  private _showInputs(kernelId: string, cells: IShadowCell[]): void {
    const waiting = new Set<string>();
    for (const shadow of cells) {
      const request = FINAL_STATUSES.has(shadow.status)
        ? null
        : shadow.input_request;
      if (request) {
        waiting.add(shadow.id);
      }
      this._inputs.update(kernelId, shadow.id, shadow.msg_id, request);
    }
    for (const cellId of this._inputs.cellIds) {
      if (!waiting.has(cellId)) {
        this._inputs.hide(cellId);
      }
    }
  }

  /**
   * Remember that a recorded execution was considered: never again restored
   * into this notebook (e.g. after the user cleared its outputs).
   */
  private _handle(msgId: string): void {
    remember(this._handled, msgId, MAX_HANDLED);
  }

  /**
   * Follow the session's kernel connection (null: none).
   */
  private _wire(kernel: Kernel.IKernelConnection | null): void {
    const old = this._follower;
    if (old?.kernel === kernel) {
      return;
    }
    if (old) {
      old.kernel.connectionStatusChanged.disconnect(this._onConnection, this);
      old.dispose();
      this._inputs.hideAll();
    }
    this._follower = null;
    if (kernel) {
      const follower = new KernelFollower(kernel, this._requests);
      follower.finished.connect((_, msgId) => this._handle(msgId));
      kernel.connectionStatusChanged.connect(this._onConnection, this);
      this._follower = follower;
    }
  }

  /**
   * Whether this notebook is a shared (real-time collaboration) document that
   * the server fills: every page sees what one writer (the page that ran a
   * cell, else the server) puts into it, so pages fill and follow nothing
   * themselves, or each would add the same outputs again.
   */
  private get _shared(): boolean {
    return this._sharedDocuments && (this._panel.model?.collaborative ?? false);
  }

  private _onKernelChanged(): void {
    const sessionContext = this._panel.sessionContext;
    if (!sessionContext.isReady) {
      return; // the first synchronisation runs once the session is ready
    }
    this._wire(sessionContext.session?.kernel ?? null);
    void this.sync('kernel changed');
  }

  private _onConnection(
    _: Kernel.IKernelConnection,
    status: Kernel.ConnectionStatus
  ): void {
    if (status === 'connected' && this._panel.sessionContext.isReady) {
      void this.sync('connected');
    }
  }

  private _codeCells(): Map<string, ICodeCellModel> {
    const cells = new Map<string, ICodeCellModel>();
    for (const cell of this._panel.content.model?.cells ?? []) {
      if (isCodeCellModel(cell)) {
        cells.set(cell.id, cell);
      }
    }
    return cells;
  }

  private _setState(state: RestoreState): void {
    if (state === 'off' && this._state !== 'off') {
      console.debug(
        `jupyter-sidecar-ext: restoring outputs is off for ${this._panel.context.localPath}`
      );
    }
    this._state = state;
  }

  private _panel: NotebookPanel;
  private _enabled: boolean;
  private _sharedDocuments: boolean;
  private _offer: OutputOffer;
  private _away: NotebookRestorer.IAway | null;
  private _inputs: PendingInputs;
  private _trust: RunTrust | null = null;
  private _requests: RestoreRequests;
  private _state: RestoreState = 'syncing';
  private _isDisposed = false;
  private _follower: KernelFollower | null = null;
  private _chain: Promise<void> = Promise.resolve();
  private _pending: Promise<void> | null = null;
  private _reasons = new Set<string>();
  private _handled = new Set<string>();
  private _restored = new Signal<this, IRestoreReport>(this);
}

/**
 * Say in the browser console (debug level) what each synchronisation did: a
 * user wondering why outputs did or did not come back reads it there.
 */
function logReport(path: string, report: IRestoreReport): void {
  const { filled, followed, offered } = report;
  if (report.shared && !offered.length) {
    console.debug(
      `jupyter-sidecar-ext: outputs of ${path} are written by the server into the shared document (${report.reason})`
    );
  } else if (filled.length || followed.length || offered.length) {
    const ids = (list: string[]): string => `[${list.join(', ')}]`;
    console.debug(
      `jupyter-sidecar-ext: restored outputs in ${path} (${report.reason}): ` +
        `filled ${ids(filled)}, followed ${ids(followed)}, offered ${ids(offered)}`
    );
  } else {
    console.debug(
      `jupyter-sidecar-ext: outputs of ${path} are up to date (${report.reason})`
    );
  }
}

export namespace NotebookRestorer {
  export interface IOptions {
    panel: NotebookPanel;
    /**
     * Initial value of {@link NotebookRestorer.enabled}.
     */
    enabled: boolean;
    /**
     * Whether the server writes shared documents (see `_shared`).
     */
    sharedDocuments?: boolean;
    requests: RestoreRequests;
    translator?: ITranslator;
    /**
     * Told of the kernel's record at each synchronisation, to say what ran
     * while no page was connected (the away summary).
     */
    away?: IAway;
  }

  /**
   * Who says what ran while no page was connected (an AwayNotifier).
   */
  export interface IAway {
    announce(cells: readonly IShadowCell[]): void;
  }
}
