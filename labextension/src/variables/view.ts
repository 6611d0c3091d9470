/**
 * VariableView: one variable's rich view (its IPython display, asked of the
 * kernel on demand by the server) rendered with the application's rendermime
 * registry, in the main area.
 *
 * The bundle is rendered untrusted (HTML sanitized, no scripts), as for
 * outputs of a notebook that is not trusted: the view shows data, it does not
 * run code. Errors are shown in the view, never as a dialog; `data-state`
 * (loading, loaded, error) on the content node says which is shown.
 */

import { MainAreaWidget } from '@jupyterlab/apputils';
import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import type { ITranslator, TranslationBundle } from '@jupyterlab/translation';
import { refreshIcon, ToolbarButton } from '@jupyterlab/ui-components';
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';
import { Panel, Widget } from '@lumino/widgets';

import { variableIcon } from '../icons';
import type { ISidecarRequests } from '../tokens';
import { loadBundle } from '../translation';
import { errorMessage } from '../utils';

const VIEW_CLASS = 'jp-SidecarVariableView';

export class VariableView extends MainAreaWidget<Panel> {
  constructor(options: VariableView.IOptions) {
    const content = new Panel();
    content.addClass(VIEW_CLASS);
    super({ content });
    this.kernelId = options.kernelId;
    this.variableName = options.name;
    this._rendermime = options.rendermime;
    this._trans = loadBundle(options.translator);
    this._client = options.requests;
    this.id = VariableView.idFor(options.kernelId, options.name);
    this.title.label = options.name;
    this.title.caption = this._trans.__('Variable %1', options.name);
    this.title.icon = variableIcon;
    this.title.closable = true;
    this.toolbar.addItem(
      'refresh',
      new ToolbarButton({
        icon: refreshIcon,
        tooltip: this._trans.__('Ask the kernel for the current value'),
        onClick: () => void this.refresh()
      })
    );
    void this.refresh();
  }

  readonly kernelId: string;
  readonly variableName: string;

  /**
   * The id of the view of a kernel's variable (one view per variable).
   */
  static idFor(kernelId: string, name: string): string {
    return `sidecar-variable-${kernelId}-${name}`;
  }

  /**
   * Fetch the variable's rich view again and render it.
   */
  async refresh(): Promise<void> {
    const request = ++this._requests;
    this._show('loading', [this._note(this._trans.__('Loading…'))]);
    let widgets: Widget[];
    let state: 'loaded' | 'error';
    try {
      const view = await this._client.variable(
        this.kernelId,
        this.variableName
      );
      widgets = await this._render(view.data, view.metadata);
      if (view.error) {
        widgets.unshift(this._note(view.error));
      }
      if (view.truncated) {
        widgets.unshift(
          this._note(
            this._trans.__('The value is too large: showing the start of it.')
          )
        );
      }
      state = 'loaded';
    } catch (reason) {
      const message = errorMessage(reason);
      widgets = [
        this._note(
          this._trans.__('Cannot show %1: %2', this.variableName, message),
          true
        )
      ];
      state = 'error';
    }
    if (request === this._requests && !this.isDisposed) {
      this._show(state, widgets);
    } else {
      widgets.forEach(widget => widget.dispose());
    }
  }

  private async _render(
    data: Record<string, unknown>,
    metadata: Record<string, unknown>
  ): Promise<Widget[]> {
    const bundle = data as ReadonlyPartialJSONObject;
    const mimeType = this._rendermime.preferredMimeType(bundle, 'ensure');
    if (!mimeType) {
      return [this._note(this._trans.__('No safe way to show this value.'))];
    }
    const renderer = this._rendermime.createRenderer(mimeType);
    await renderer.renderModel(
      new MimeModel({
        data: bundle,
        metadata: metadata as ReadonlyPartialJSONObject,
        trusted: false
      })
    );
    return [renderer];
  }

  private _show(state: string, widgets: Widget[]): void {
    const panel = this.content;
    panel.node.dataset.state = state;
    for (const widget of [...panel.widgets]) {
      widget.dispose();
    }
    widgets.forEach(widget => panel.addWidget(widget));
  }

  private _note(text: string, error = false): Widget {
    const note = new Widget();
    note.addClass(`${VIEW_CLASS}-note`);
    if (error) {
      note.addClass(`${VIEW_CLASS}-error`);
    }
    note.node.textContent = text;
    return note;
  }

  private _rendermime: IRenderMimeRegistry;
  private _client: Pick<ISidecarRequests, 'variable'>;
  private _trans: TranslationBundle;
  private _requests = 0;
}

export namespace VariableView {
  export interface IOptions {
    kernelId: string;
    name: string;
    rendermime: IRenderMimeRegistry;
    requests: Pick<ISidecarRequests, 'variable'>;
    translator?: ITranslator;
  }
}
