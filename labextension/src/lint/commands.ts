/**
 * The commands "Format Cell(s)", "Format Notebook" and "Format Python File"
 * (palette, cell context menu, notebook toolbar and shortcuts come from
 * `schema/lint.json`).
 */

import type { JupyterFrontEnd } from '@jupyterlab/application';
import { Notification } from '@jupyterlab/apputils';
import { PathExt } from '@jupyterlab/coreutils';
import type { IDocumentWidget } from '@jupyterlab/docregistry';
import type { FileEditor, IEditorTracker } from '@jupyterlab/fileeditor';
import type { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Widget } from '@lumino/widgets';

import { formatIcon } from '../icons';
import { IFormatReport, SourceFormatter } from './formatter';
import type { DocumentFormat } from './save';

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

/**
 * Add the formatting commands; returns the quiet format of a whole document
 * that format on save uses.
 */
export function addCommands(
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
