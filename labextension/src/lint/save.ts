/**
 * FormatOnSave: with the `formatOnSave` setting on, documents are formatted
 * when saved, without a second save whenever that can be avoided.
 *
 * JupyterLab has no hook that runs before a save writes: its context reads
 * the model synchronously right after emitting `saveState` 'started', too
 * late for a server round trip. So:
 * - the save shortcut (Accel+S) in a notebook or a file editor is bound to
 *   "Format and Save", which formats, then runs JupyterLab's save: one write,
 *   already formatted;
 * - other saves through JupyterLab's save command (toolbar, File menu) are
 *   followed by a format and, when it changed something, a second save;
 * - autosave never formats (it would rewrite code while it is being typed).
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import type { DocumentRegistry } from '@jupyterlab/docregistry';
import type { CommandRegistry } from '@lumino/commands';
import { IDisposable } from '@lumino/disposable';
import type { Widget } from '@lumino/widgets';

import type { IFormatReport } from './formatter';

/**
 * JupyterLab's save command.
 */
const SAVE_COMMAND = 'docmanager:save';

/**
 * Keys of JupyterLab's save command, taken over while formatting on save.
 */
const SAVE_KEYS = ['Accel S'];

/**
 * Where the save shortcut formats first: closer to the editor than the
 * `body` of JupyterLab's own binding, so it wins there.
 */
const SAVE_KEY_SELECTORS = ['.jp-NotebookPanel', '.jp-FileEditor'];

/**
 * Formats a whole notebook or `.py` file quietly; null for other widgets.
 */
export type DocumentFormat = (
  widget: Widget | null
) => Promise<IFormatReport | null>;

export class FormatOnSave implements IDisposable {
  constructor(options: FormatOnSave.IOptions) {
    this._app = options.app;
    this._format = options.format;
    this._app.commands.commandExecuted.connect(this._onExecuted, this);
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The `formatOnSave` setting: while on, the save shortcut runs "Format and
   * Save" in notebooks and file editors (the palette shows it beside the command).
   */
  get enabled(): boolean {
    return this._keys !== null;
  }
  set enabled(value: boolean) {
    if (value && !this._keys) {
      const commands = this._app.commands;
      this._keys = SAVE_KEY_SELECTORS.map(selector =>
        commands.addKeyBinding({
          command: FormatOnSave.commandId,
          keys: SAVE_KEYS,
          selector
        })
      );
    } else if (!value && this._keys) {
      this._keys.forEach(binding => binding.dispose());
      this._keys = null;
    }
  }

  /**
   * Format the current notebook or `.py` file, then save it with
   * JupyterLab's save command. A failed format (its notification says why)
   * never prevents the save.
   */
  async formatAndSave(): Promise<void> {
    const { commands, shell } = this._app;
    const widget = shell.currentWidget;
    await this._format(widget);
    if (widget && widget !== shell.currentWidget) {
      // The user moved on meanwhile: save what was formatted, not the new tab.
      await contextOf(widget)?.save();
      return;
    }
    this._ownSave = true;
    let saved: Promise<unknown>;
    try {
      saved = commands.execute(SAVE_COMMAND);
    } finally {
      this._ownSave = false;
    }
    await saved;
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._keys?.forEach(binding => binding.dispose());
    this._keys = null;
    this._app.commands.commandExecuted.disconnect(this._onExecuted, this);
    this._isDisposed = true;
  }

  /**
   * A save that did not come through "Format and Save": format once it is
   * written, and save again if that changed something.
   */
  private _onExecuted(
    _: CommandRegistry,
    args: CommandRegistry.ICommandExecutedArgs
  ): void {
    if (args.id !== SAVE_COMMAND || this._ownSave || !this.enabled) {
      return;
    }
    const widget = this._app.shell.currentWidget;
    void args.result
      .then(async () => {
        const report = await this._format(widget);
        const context = widget ? contextOf(widget) : null;
        if (report && report.formatted.length > 0 && context) {
          await context.save();
        }
      })
      .catch(reason =>
        console.warn('jupyter-sidecar-ext: format after save failed', reason)
      );
  }

  private _app: JupyterFrontEnd;
  private _format: DocumentFormat;
  private _isDisposed = false;
  private _keys: IDisposable[] | null = null;
  private _ownSave = false;
}

export namespace FormatOnSave {
  /**
   * The command the save shortcut runs while formatting on save.
   */
  export const commandId = 'sidecar:format-and-save';

  export interface IOptions {
    app: JupyterFrontEnd;
    format: DocumentFormat;
  }
}

function contextOf(widget: Widget): DocumentRegistry.Context | null {
  const context = (widget as { context?: DocumentRegistry.Context }).context;
  return context && !widget.isDisposed ? context : null;
}
