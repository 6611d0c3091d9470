/**
 * The formatting plugin: commands "Format Cell(s)", "Format Notebook",
 * "Format Python File" and "Format and Save", in the command palette, the
 * cell context menu, the notebook toolbar and on keyboard shortcuts (those
 * three come from `schema/lint.json`), plus format on save (lint-save.ts).
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import { FileEditor, IEditorTracker } from '@jupyterlab/fileeditor';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import {
  ITranslator,
  nullTranslator,
  TranslationBundle
} from '@jupyterlab/translation';
import { LabIcon } from '@jupyterlab/ui-components';
import type { Widget } from '@lumino/widgets';

import {
  DEFAULT_LINT_SETTINGS,
  ILintSettings,
  LINT_PLUGIN_ID,
  readLintSettings,
  warmUpLint
} from './lint';
import { IFormatReport, SourceFormatter } from './lint-formatter';
import { DocumentFormat, FormatOnSave } from './lint-save';

/**
 * Command IDs of the formatting plugin.
 */
export namespace LintCommandIDs {
  /**
   * Format the selected code cells (or the active one) of the current notebook.
   */
  export const formatCells = 'sidecar:format-cells';
  /**
   * Format every code cell of the current notebook (the toolbar button).
   */
  export const formatNotebook = 'sidecar:format-notebook';
  /**
   * Format the `.py` file of the current file editor.
   */
  export const formatFile = 'sidecar:format-file';
}

const formatIcon = new LabIcon({
  name: 'jupyter-sidecar-ext:format',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24">' +
    '<path class="jp-icon3" fill="#616161" ' +
    'd="M3 4h18v2H3zm4 4h14v2H7zm-4 4h18v2H3zm4 4h14v2H7zm-4 4h18v2H3z"/>' +
    '</svg>'
});

/**
 * Formatting plugin.
 */
export const lintPlugin: JupyterFrontEndPlugin<void> = {
  id: LINT_PLUGIN_ID,
  description:
    'Formats notebook cells and Python files with isort and black.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [IEditorTracker, ISettingRegistry, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    notebooks: INotebookTracker,
    editors: IEditorTracker | null,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    const trans = (translator ?? nullTranslator).load('jupyterlab');
    let settings: ILintSettings = DEFAULT_LINT_SETTINGS;
    const formatter = new SourceFormatter({ settings: () => settings, trans });
    const format = addCommands(app, notebooks, editors, formatter, trans);
    const onSave = new FormatOnSave({ app, format });
    app.commands.addCommand(FormatOnSave.commandId, {
      label: trans.__('Format and Save'),
      caption: trans.__('Format the notebook or Python file, then save it'),
      isEnabled: () => app.commands.isEnabled('docmanager:save'),
      execute: () => onSave.formatAndSave()
    });
    if (palette) {
      const category = trans.__('Sidecar');
      for (const command of [
        LintCommandIDs.formatCells,
        LintCommandIDs.formatNotebook,
        LintCommandIDs.formatFile,
        FormatOnSave.commandId
      ]) {
        palette.addItem({ command, category });
      }
    }

    const apply = (next: ILintSettings): void => {
      settings = next;
      onSave.enabled = next.formatOnSave;
    };
    void loadSettings(registry, apply)
      .then(() => app.restored)
      .then(() => warmUpLint(settings))
      .catch(reason =>
        console.debug('jupyter-sidecar-ext: formatter warm-up failed', reason)
      );
  }
};

/**
 * Read the plugin's settings and follow their changes.
 */
async function loadSettings(
  registry: ISettingRegistry | null,
  apply: (settings: ILintSettings) => void
): Promise<void> {
  if (!registry) {
    apply(DEFAULT_LINT_SETTINGS);
    return;
  }
  try {
    const loaded = await registry.load(LINT_PLUGIN_ID);
    loaded.changed.connect(() => apply(readLintSettings(loaded)));
    apply(readLintSettings(loaded));
  } catch (reason) {
    console.warn('jupyter-sidecar-ext: cannot load the lint settings', reason);
    apply(DEFAULT_LINT_SETTINGS);
  }
}

function addCommands(
  app: JupyterFrontEnd,
  notebooks: INotebookTracker,
  editors: IEditorTracker | null,
  formatter: SourceFormatter,
  trans: TranslationBundle
): DocumentFormat {
  const { commands, shell } = app;
  const asNotebook = (widget: Widget | null): NotebookPanel | null =>
    widget && !widget.isDisposed && notebooks.has(widget)
      ? (widget as NotebookPanel)
      : null;
  const asPythonFile = (
    widget: Widget | null
  ): IDocumentWidget<FileEditor> | null =>
    widget && !widget.isDisposed && editors?.has(widget)
      ? isPythonPath((widget as IDocumentWidget<FileEditor>).context.path)
        ? (widget as IDocumentWidget<FileEditor>)
        : null
      : null;
  const formatPanel = async (
    panel: NotebookPanel | null,
    selectedOnly: boolean,
    quiet: boolean
  ): Promise<IFormatReport | null> => {
    if (!panel) {
      return null;
    }
    if (!SourceFormatter.isPython(panel)) {
      if (!quiet) {
        Notification.info(
          trans.__('Formatting is for Python notebooks only.'),
          { autoClose: 4000 }
        );
      }
      return null;
    }
    const cells = SourceFormatter.codeCells(panel.content, selectedOnly);
    const report = await formatter.formatCells(panel, cells);
    logReport(panel.context.path, report);
    return report;
  };
  const formatFile = async (
    widget: IDocumentWidget<FileEditor> | null
  ): Promise<IFormatReport | null> => {
    if (!widget) {
      return null;
    }
    const report = await formatter.formatFile(widget);
    logReport(widget.context.path, report);
    return report;
  };
  const currentNotebook = (): NotebookPanel | null =>
    asNotebook(notebooks.currentWidget);
  const currentPythonFile = (): IDocumentWidget<FileEditor> | null =>
    asPythonFile(shell.currentWidget);

  commands.addCommand(LintCommandIDs.formatCells, {
    label: trans.__('Format Cell(s)'),
    caption: trans.__('Format the selected code cells with isort and black'),
    icon: formatIcon,
    isEnabled: () => currentNotebook() !== null,
    execute: () => formatPanel(currentNotebook(), true, false)
  });
  commands.addCommand(LintCommandIDs.formatNotebook, {
    label: trans.__('Format Notebook'),
    caption: trans.__('Format every code cell with isort and black'),
    icon: formatIcon,
    isEnabled: () => currentNotebook() !== null,
    execute: () => formatPanel(currentNotebook(), false, false)
  });
  commands.addCommand(LintCommandIDs.formatFile, {
    label: trans.__('Format Python File'),
    caption: trans.__('Format the Python file with isort and black'),
    icon: formatIcon,
    isEnabled: () => currentPythonFile() !== null,
    execute: () => formatFile(currentPythonFile())
  });

  // Toolbar buttons ask whether their command is enabled when they render.
  const refresh = (): void => {
    commands.notifyCommandChanged(LintCommandIDs.formatCells);
    commands.notifyCommandChanged(LintCommandIDs.formatNotebook);
    commands.notifyCommandChanged(LintCommandIDs.formatFile);
  };
  notebooks.currentChanged.connect(refresh);
  editors?.currentChanged.connect(refresh);
  shell.currentChanged?.connect(refresh);

  return (widget: Widget | null) => {
    const panel = asNotebook(widget);
    if (panel) {
      return formatPanel(panel, false, true);
    }
    return formatFile(asPythonFile(widget));
  };
}

function isPythonPath(path: string): boolean {
  return PathExt.extname(path).toLowerCase() === '.py';
}

function logReport(path: string, report: IFormatReport): void {
  if (report.error !== undefined) {
    return;
  }
  const list = (ids: string[]): string => `[${ids.join(', ')}]`;
  console.log(
    `jupyter-sidecar-ext: formatted ${path}: ` +
      `changed ${list(report.formatted)}, ` +
      `unchanged ${list(report.unchanged)}, ` +
      `failed ${list(report.failed)}, ` +
      `skipped ${list(report.skipped)}`
  );
}
