/**
 * The dataflow markers of one notebook page: fetches the kernel's dataflow
 * when the sidecar's events say it may have changed (an execution ended, a
 * cell's count of stale inputs moved), recomputes the markers when the
 * notebook changes (an edit, a deleted cell), and shows them in the prompt
 * area of the code cells. Every page of the notebook hears the same events,
 * so a second page follows on its own.
 */

import { Cell, CodeCell } from '@jupyterlab/cells';
import type { NotebookPanel } from '@jupyterlab/notebook';
import type { Kernel } from '@jupyterlab/services';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { IDisposable } from '@lumino/disposable';

import { hiddenStateIcon, staleIcon } from '../icons';
import type { ICellChangedEvent, ISidecar } from '../tokens';
import { cellMarkers, INotebookCell, markerTooltip } from './markers';
import { shouldRefetch } from './plan';
import type { ICellMarker, IDataflow } from './types';

/**
 * Fetch no more than once per this many ms (events come in bursts).
 */
const REFETCH_DELAY_MS = 200;
/**
 * Recompute after typing pauses this long.
 */
const RENDER_DELAY_MS = 250;

export const MARKER_CLASS = 'jp-SidecarDataflow-marker';
const HOST_CLASS = 'jp-SidecarDataflow-host';

/**
 * The code cells of a notebook panel as they are now (id and source).
 */
export function notebookCells(panel: NotebookPanel): INotebookCell[] {
  return codeCells(panel).map(cell => ({
    id: cell.model.id,
    source: cell.model.sharedModel.getSource()
  }));
}

/**
 * The code cell widgets of a notebook panel, in order.
 */
export function codeCells(panel: NotebookPanel): CodeCell[] {
  return panel.content.widgets.filter(
    (cell: Cell): cell is CodeCell => cell instanceof CodeCell
  );
}

export class NotebookDataflow implements IDisposable {
  constructor(
    private readonly _panel: NotebookPanel,
    private readonly _sidecar: ISidecar,
    private readonly _trans: TranslationBundle
  ) {
    const session = _panel.sessionContext;
    _sidecar.cellChanged.connect(this._onCellChanged, this);
    session.kernelChanged.connect(this._refetchSoon, this);
    session.statusChanged.connect(this._onStatus, this);
    _panel.content.modelContentChanged.connect(this._renderSoon, this);
    _panel.content.cellInViewportChanged.connect(this._render, this);
    _panel.disposed.connect(this.dispose, this);
    void session.ready.then(() => this._refetchSoon());
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    clearTimeout(this._refetchTimer);
    clearTimeout(this._renderTimer);
    this._sidecar.cellChanged.disconnect(this._onCellChanged, this);
    const session = this._panel.sessionContext;
    session.kernelChanged.disconnect(this._refetchSoon, this);
    session.statusChanged.disconnect(this._onStatus, this);
    this._panel.content.modelContentChanged.disconnect(this._renderSoon, this);
    this._panel.content.cellInViewportChanged.disconnect(this._render, this);
  }

  /**
   * Ask the server now (after a plan, say); answers arriving out of order are
   * dropped.
   */
  async refetch(): Promise<void> {
    clearTimeout(this._refetchTimer);
    this._refetchTimer = undefined;
    const kernelId = this._kernelId();
    const asked = ++this._asked;
    let dataflow: IDataflow | null = null;
    if (kernelId) {
      try {
        dataflow = await this._sidecar.requests.dataflow(kernelId);
      } catch (reason) {
        console.debug('jupyter-sidecar-ext: no dataflow', reason);
      }
    }
    if (asked !== this._asked || this._isDisposed) {
      return;
    }
    this._dataflow = dataflow;
    this._staleInputs = new Map(
      (dataflow?.cells ?? []).map(cell => [cell.id, cell.stale_because.length])
    );
    this._render();
  }

  private _kernelId(): string | null {
    return this._panel.sessionContext.session?.kernel?.id ?? null;
  }

  private _onCellChanged(_: ISidecar, event: ICellChangedEvent): void {
    if (
      event.kernel_id === this._kernelId() &&
      shouldRefetch(event, this._staleInputs)
    ) {
      this._refetchSoon();
    }
  }

  /**
   * A restart empties the kernel's history: ask again once it is back.
   */
  private _onStatus(_: unknown, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting') {
      this._restarting = true;
    } else if (status === 'idle' && this._restarting) {
      this._restarting = false;
      this._refetchSoon();
    }
  }

  private _refetchSoon(): void {
    if (this._refetchTimer === undefined && !this._isDisposed) {
      this._refetchTimer = setTimeout(
        () => void this.refetch(),
        REFETCH_DELAY_MS
      );
    }
  }

  private _renderSoon(): void {
    clearTimeout(this._renderTimer);
    if (!this._isDisposed) {
      this._renderTimer = setTimeout(() => this._render(), RENDER_DELAY_MS);
    }
  }

  private _render(): void {
    clearTimeout(this._renderTimer);
    if (this._isDisposed) {
      return;
    }
    const markers = cellMarkers(this._dataflow, notebookCells(this._panel));
    for (const cell of codeCells(this._panel)) {
      this._show(cell, markers.get(cell.model.id) ?? null);
    }
  }

  /**
   * Put the cell's marker in its prompt area (beside the prompt, which
   * JupyterLab rewrites with each execution count), or take it away.
   */
  private _show(cell: CodeCell, marker: ICellMarker | null): void {
    const host = cell.inputArea?.node;
    if (!host) {
      return; // not rendered yet: done when it comes into view
    }
    let node = host.querySelector<HTMLElement>(`:scope > .${MARKER_CLASS}`);
    if (!marker) {
      node?.remove();
      return;
    }
    if (!node) {
      node = document.createElement('div');
      node.classList.add(MARKER_CLASS);
      node.setAttribute('role', 'img');
      host.classList.add(HOST_CLASS);
      host.appendChild(node);
    }
    const tooltip = markerTooltip(marker, this._trans);
    const kind = `jp-mod-${marker.kind}`;
    if (!node.classList.contains(kind)) {
      node.classList.remove('jp-mod-stale', 'jp-mod-hidden');
      node.classList.add(kind);
      node.textContent = '';
      (marker.kind === 'hidden' ? hiddenStateIcon : staleIcon).element({
        container: node
      });
    }
    node.title = tooltip;
    node.setAttribute('aria-label', tooltip);
  }

  private _isDisposed = false;
  private _dataflow: IDataflow | null = null;
  private _staleInputs: ReadonlyMap<string, number> = new Map();
  private _asked = 0;
  private _restarting = false;
  private _refetchTimer: ReturnType<typeof setTimeout> | undefined;
  private _renderTimer: ReturnType<typeof setTimeout> | undefined;
}
