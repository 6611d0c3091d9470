/**
 * DataViewer: a DataFrame, Series or 2-D array as a grid in the main area,
 * its rows read a page at a time from the server (`GET .../rows`) as the
 * user scrolls (see {@link PagedDataModel}). A click on a column header
 * sorts by that column, on the server. The viewer follows new executions:
 * marked stale while the kernel runs code, read again when the server lists
 * the kernel's variables anew (and on its refresh button).
 */

import { MainAreaWidget } from '@jupyterlab/apputils';
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import {
  BasicKeyHandler,
  BasicMouseHandler,
  BasicSelectionModel,
  DataGrid,
  RendererMap,
  TextRenderer
} from '@lumino/datagrid';
import { BoxPanel, Widget } from '@lumino/widgets';

import { variableIcon } from '../icons';
import type { ISidecarRequests } from '../tokens';
import { loadBundle } from '../translation';
import { formatCount } from './format';
import { IGridState, PagedDataModel } from './gridmodel';

const VIEWER_CLASS = 'jp-SidecarDataViewer';

/**
 * A press that moved less than this (px) is a click, not a drag.
 */
const CLICK_SLOP = 4;

export class DataViewer extends MainAreaWidget<BoxPanel> {
  constructor(options: DataViewer.IOptions) {
    const content = new BoxPanel({ direction: 'top-to-bottom', spacing: 0 });
    content.addClass(VIEWER_CLASS);
    super({ content });
    this.kernelId = options.kernelId;
    this.variableName = options.name;
    this._trans = loadBundle(options.translator);
    const requests = options.requests;
    this.id = DataViewer.idFor(options.kernelId, options.name);
    this.title.label = options.name;
    this.title.caption = this._trans.__('Data Viewer: %1', options.name);
    this.title.icon = variableIcon;
    this.title.closable = true;

    this._model = new PagedDataModel({
      fetch: query => requests.rows(this.kernelId, this.variableName, query)
    });
    this._grid = new DataGrid({
      defaultSizes: {
        rowHeight: 22,
        columnWidth: 110,
        rowHeaderWidth: 80,
        columnHeaderHeight: 22
      },
      style: gridStyle(),
      headerVisibility: 'all'
    });
    this._grid.addClass(`${VIEWER_CLASS}-grid`);
    this._grid.dataModel = this._model;
    this._grid.keyHandler = new BasicKeyHandler();
    this._grid.mouseHandler = new BasicMouseHandler();
    this._grid.selectionModel = new BasicSelectionModel({
      dataModel: this._model
    });
    this._grid.cellRenderers = new RendererMap(
      {},
      new TextRenderer({
        textColor: cssVar('--jp-ui-font-color1', '#000'),
        font: `12px ${cssVar('--jp-code-font-family', 'monospace')}`,
        elideDirection: 'right'
      })
    );
    this._status.addClass(`${VIEWER_CLASS}-status`);
    this._status.node.setAttribute('role', 'status');
    BoxPanel.setSizeBasis(this._status, 24);
    BoxPanel.setStretch(this._status, 0);
    BoxPanel.setStretch(this._grid, 1);
    content.addWidget(this._status);
    content.addWidget(this._grid);

    this._staleBadge.addClass(`${VIEWER_CLASS}-stale`);
    this._staleBadge.node.textContent = this._trans.__('stale');
    this._staleBadge.node.title = this._trans.__(
      'The kernel ran code since these rows were read: refresh to read them again.'
    );
    this._staleBadge.hide();
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        label: this._trans.__('Refresh'),
        tooltip: this._trans.__('Read the rows again from the kernel'),
        onClick: () => void this.refresh()
      })
    );
    this.toolbar.addItem('stale', this._staleBadge);

    this._model.stateChanged.connect(this._renderStatus, this);
    this._grid.node.addEventListener('mousedown', this, true);
    this._grid.node.addEventListener('click', this, true);
    this._renderStatus();
    void this.refresh();
  }

  readonly kernelId: string;
  readonly variableName: string;

  /**
   * The id of the viewer of a kernel's variable (one viewer per variable).
   */
  static idFor(kernelId: string, name: string): string {
    return `sidecar-data-${kernelId}-${name}`;
  }

  get stale(): boolean {
    return this._stale;
  }

  /**
   * The kernel ran code: the rows shown may be out of date.
   */
  markStale(): void {
    if (!this._stale) {
      this._stale = true;
      this._staleBadge.show();
      this.node.dataset.stale = 'true';
    }
  }

  /**
   * Read the rows again (size, columns and the current sort kept).
   */
  async refresh(): Promise<void> {
    this._stale = false;
    this._staleBadge.hide();
    this.node.dataset.stale = 'false';
    await this._model.reload();
  }

  handleEvent(event: Event): void {
    const mouse = event as MouseEvent;
    if (event.type === 'mousedown') {
      this._press = { x: mouse.clientX, y: mouse.clientY };
    } else if (event.type === 'click') {
      this._onClick(mouse);
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._grid.node.removeEventListener('mousedown', this, true);
    this._grid.node.removeEventListener('click', this, true);
    this._model.stateChanged.disconnect(this._renderStatus, this);
    super.dispose();
  }

  /**
   * A click (not a drag, not on a column's edge) on a header sorts.
   */
  private _onClick(event: MouseEvent): void {
    const press = this._press;
    this._press = null;
    if (
      !press ||
      Math.abs(event.clientX - press.x) > CLICK_SLOP ||
      Math.abs(event.clientY - press.y) > CLICK_SLOP
    ) {
      return;
    }
    const hit = this._grid.hitTest(event.clientX, event.clientY);
    if (
      hit.region !== 'column-header' ||
      hit.x < CLICK_SLOP ||
      hit.width - hit.x < CLICK_SLOP
    ) {
      return;
    }
    void this._model.sortBy(hit.column);
  }

  private _renderStatus(): void {
    const state: IGridState = this._model.state;
    const trans = this._trans;
    this.content.node.dataset.state = state.state;
    let text: string;
    if (state.state === 'error') {
      text = trans.__(
        'Cannot show %1: %2',
        this.variableName,
        state.error ?? ''
      );
    } else if (state.state === 'loading' || state.totalRows === null) {
      text = trans.__('Loading…');
    } else {
      text = trans.__(
        '%1 rows x %2 columns',
        formatCount(state.totalRows),
        formatCount(state.columns.length)
      );
      if (state.sort !== null) {
        text +=
          ' · ' +
          (state.ascending
            ? trans.__('sorted by %1, ascending', state.sort)
            : trans.__('sorted by %1, descending', state.sort));
      }
    }
    this._status.node.textContent = text;
    this._status.toggleClass(`${VIEWER_CLASS}-error`, state.state === 'error');
  }

  private _trans: TranslationBundle;
  private _model: PagedDataModel;
  private _grid: DataGrid;
  private _status = new Widget();
  private _staleBadge = new Widget();
  private _stale = false;
  private _press: { x: number; y: number } | null = null;
}

/**
 * A CSS variable of the current theme.
 */
function cssVar(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/**
 * The grid's colors from the JupyterLab theme (the grid paints on canvas).
 */
function gridStyle(): DataGrid.Style {
  return {
    ...DataGrid.defaultStyle,
    voidColor: cssVar('--jp-layout-color0', '#fff'),
    backgroundColor: cssVar('--jp-layout-color0', '#fff'),
    headerBackgroundColor: cssVar('--jp-layout-color2', '#eee'),
    gridLineColor: cssVar('--jp-border-color3', 'rgba(20, 20, 20, 0.15)'),
    headerGridLineColor: cssVar('--jp-border-color2', 'rgba(20, 20, 20, 0.25)'),
    selectionFillColor: 'rgba(49, 119, 180, 0.2)',
    selectionBorderColor: 'rgba(0, 107, 247, 1.0)',
    cursorBorderColor: 'rgba(0, 107, 247, 1.0)'
  };
}

export namespace DataViewer {
  export interface IOptions {
    kernelId: string;
    name: string;
    requests: Pick<ISidecarRequests, 'rows'>;
    translator?: ITranslator;
  }
}
