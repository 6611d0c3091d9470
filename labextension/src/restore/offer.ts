/**
 * Outputs recorded for a notebook by kernels that are gone (shut down, or from
 * before a server restart), offered to the user rather than restored
 * silently: the kernel that made them no longer holds their state.
 */

import { Notification } from '@jupyterlab/apputils';
import type { ICodeCellModel } from '@jupyterlab/cells';
import type { ITranslator } from '@jupyterlab/translation';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { canOffer, pageCell, setOutputs, withoutDeadViews } from './outputs';
import { loadBundle } from '../translation';
import { remember } from '../utils';
import type {
  IKernelSummary,
  IOffer,
  IShadowCell,
  RestoreRequests
} from './types';

/**
 * Offered executions remembered per notebook (bounded).
 */
const MAX_OFFERED = 10_000;

/**
 * The offer of a notebook's outputs recorded by gone kernels: a notification
 * with a "Restore outputs" action, made once per recorded execution.
 */
export class OutputOffer implements IDisposable {
  constructor(options: OutputOffer.IOptions) {
    this._cells = options.cells;
    this._requests = options.requests;
    this._trans = loadBundle(options.translator);
  }

  /**
   * Emitted with the ids of the cells filled when the user accepts an offer.
   */
  get accepted(): ISignal<this, string[]> {
    return this._accepted;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * Look for outputs of gone kernels for the page cells that show none and
   * that the session's kernel has no record of, and offer them if any is new.
   *
   * @param path Notebook (session) path.
   * @param kernelId The session's kernel, if any.
   * @param recorded Ids of cells the session's kernel has a record of.
   * @returns Ids of the cells offered outputs now (empty if nothing new).
   */
  async update(
    path: string,
    kernelId: string | null,
    recorded: ReadonlySet<string>
  ): Promise<string[]> {
    const candidates = new Map<string, ICodeCellModel>();
    for (const [id, model] of this._cells()) {
      const page = pageCell(model);
      if (!recorded.has(id) && page.source.trim() && !page.outputs.length) {
        candidates.set(id, model);
      }
    }
    const offers = await findOffers(this._requests, path, kernelId, candidates);
    const key = (offer: IOffer): string =>
      `${offer.kernelId}/${offer.cell.msg_id}`;
    if (
      this._isDisposed ||
      offers.every(offer => this._offered.has(key(offer)))
    ) {
      return [];
    }
    for (const offer of offers) {
      remember(this._offered, key(offer), MAX_OFFERED);
    }
    this.dismiss();
    const trans = this._trans;
    const name = path.split('/').pop() ?? path;
    const message = trans._n(
      '%1 cell of %2 has outputs recorded in an earlier kernel session.',
      '%1 cells of %2 have outputs recorded in an earlier kernel session.',
      offers.length,
      name
    );
    const restore = (): void => {
      this._notification = null;
      if (!this._isDisposed) {
        this._accepted.emit(applyOffers(offers, this._cells()));
      }
    };
    this._notification = Notification.info(message, {
      autoClose: false,
      actions: [
        {
          label: trans.__('Restore outputs'),
          caption: trans.__(
            'Put the recorded outputs back into the cells that show none and whose code is unchanged.'
          ),
          displayType: 'accent',
          callback: restore
        }
      ]
    });
    return offers.map(offer => offer.cellId);
  }

  /**
   * Withdraw the offer on screen, if any.
   */
  dismiss(): void {
    if (this._notification !== null) {
      Notification.dismiss(this._notification);
      this._notification = null;
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    this.dismiss();
    Signal.clearData(this);
  }

  private _cells: () => Map<string, ICodeCellModel>;
  private _requests: RestoreRequests;
  private _trans: ReturnType<ITranslator['load']>;
  private _isDisposed = false;
  private _offered = new Set<string>();
  private _notification: string | null = null;
  private _accepted = new Signal<this, string[]>(this);
}

export namespace OutputOffer {
  export interface IOptions {
    /**
     * The notebook's code cells by id, as they are now.
     */
    cells: () => Map<string, ICodeCellModel>;
    requests: RestoreRequests;
    translator?: ITranslator;
  }
}

/**
 * Gone kernels read at most, newest first.
 */
const MAX_GONE_KERNELS = 10;

/**
 * Outputs recorded by gone kernels of a notebook path for the given page
 * cells: per cell, the newest recorded execution that {@link canOffer}.
 *
 * @param requests The REST calls to read records with.
 * @param path Notebook path (the session path the server recorded).
 * @param currentKernelId The session's kernel, never offered from.
 * @param cells Page code cells that may receive outputs, by id.
 */
export async function findOffers(
  requests: RestoreRequests,
  path: string,
  currentKernelId: string | null,
  cells: ReadonlyMap<string, ICodeCellModel>
): Promise<IOffer[]> {
  if (cells.size === 0) {
    return [];
  }
  const gone = newestFirst(
    (await requests.kernelsForPath(path)).filter(
      kernel =>
        !kernel.alive &&
        kernel.kernel_id !== currentKernelId &&
        kernel.cells > 0
    )
  ).slice(0, MAX_GONE_KERNELS);
  const notebooks = await Promise.all(
    gone.map(kernel =>
      requests.notebook(kernel.kernel_id).catch(reason => {
        console.warn(
          `jupyter-sidecar-ext: cannot read the record of kernel ${kernel.kernel_id}`,
          reason
        );
        return null;
      })
    )
  );
  const best = new Map<string, IOffer>();
  notebooks.forEach((notebook, rank) => {
    for (const cell of notebook?.cells ?? []) {
      const model = cells.get(cell.id);
      if (!model || !canOffer(pageCell(model), cell)) {
        continue;
      }
      const current = best.get(cell.id);
      // Kernels come newest first: a later kernel only wins with a newer time.
      if (!current || time(cell) > time(current.cell)) {
        best.set(cell.id, {
          cellId: cell.id,
          kernelId: gone[rank].kernel_id,
          cell
        });
      }
    }
  });
  return [...best.values()];
}

/**
 * Put offered outputs into the page cells that can still take them (same
 * source, no outputs, not executing: the page may have changed since).
 *
 * @returns Ids of the cells that received outputs.
 */
export function applyOffers(
  offers: readonly IOffer[],
  cells: ReadonlyMap<string, ICodeCellModel>
): string[] {
  const applied: string[] = [];
  for (const offer of offers) {
    const model = cells.get(offer.cellId);
    if (!model || model.isDisposed || !canOffer(pageCell(model), offer.cell)) {
      continue;
    }
    setOutputs(model.outputs, withoutDeadViews(offer.cell.outputs));
    model.executionCount = offer.cell.execution_count;
    applied.push(offer.cellId);
  }
  return applied;
}

/**
 * Gone kernels, newest first: by `updated` when the server gives it, else in
 * the server's order (servers with the `path` filter sort newest first).
 */
function newestFirst(kernels: IKernelSummary[]): IKernelSummary[] {
  if (!kernels.every(kernel => kernel.updated !== undefined)) {
    return kernels;
  }
  const stamp = (kernel: IKernelSummary): number =>
    typeof kernel.updated === 'number'
      ? kernel.updated * 1000
      : Date.parse(kernel.updated ?? '') || 0;
  return [...kernels].sort((a, b) => stamp(b) - stamp(a));
}

/**
 * When a recorded execution last changed (0 if unknown).
 */
function time(cell: IShadowCell): number {
  return Date.parse(cell.ended ?? cell.started ?? '') || 0;
}
