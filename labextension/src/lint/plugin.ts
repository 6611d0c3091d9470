/**
 * The formatting plugin: "Format Cell(s)", "Format Notebook", "Format Python
 * File" and "Format and Save", plus format on save. On only when the server
 * offers formatting ("lint"); "Check Notebook", "Fix All in Notebook" and the
 * diagnostics in the cells when it also offers checking with ruff ("check").
 */

import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { IEditorTracker } from '@jupyterlab/fileeditor';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ITranslator } from '@jupyterlab/translation';

import { ISidecar } from '../tokens';
import { loadBundle } from '../translation';
import { activateChecking } from './checking';
import { addCommands, LintCommandIDs } from './commands';
import { SourceFormatter } from './formatter';
import { FormatOnSave } from './save';
import {
  DEFAULT_LINT_SETTINGS,
  ILintSettings,
  lintRequest,
  readLintSettings
} from './settings';

/**
 * ID of the formatting plugin; its settings schema is `schema/lint.json`.
 */
export const LINT_PLUGIN_ID = 'jupyter-sidecar-ext:lint';

const lintPlugin: JupyterFrontEndPlugin<void> = {
  id: LINT_PLUGIN_ID,
  description: 'Formats notebook cells and Python files with isort and black.',
  autoStart: true,
  requires: [ISidecar, INotebookTracker],
  optional: [IEditorTracker, ISettingRegistry, ICommandPalette, ITranslator],
  activate: (
    app: JupyterFrontEnd,
    sidecar: ISidecar,
    notebooks: INotebookTracker,
    editors: IEditorTracker | null,
    registry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    translator: ITranslator | null
  ): void => {
    void sidecar.ready.then(() => {
      if (sidecar.hasFeature('lint')) {
        activateLint(app, sidecar, notebooks, editors, registry, palette, {
          translator
        });
      }
    });
  }
};

function activateLint(
  app: JupyterFrontEnd,
  sidecar: ISidecar,
  notebooks: INotebookTracker,
  editors: IEditorTracker | null,
  registry: ISettingRegistry | null,
  palette: ICommandPalette | null,
  options: { translator: ITranslator | null }
): void {
  const trans = loadBundle(options.translator);
  let settings: ILintSettings = DEFAULT_LINT_SETTINGS;
  const formatter = new SourceFormatter({
    settings: () => settings,
    lint: request => sidecar.requests.lint(request),
    trans
  });
  const format = addCommands(app, notebooks, editors, formatter, trans);
  // Toolbar buttons of notebooks already open were made before these commands
  // existed: have them render again.
  app.commands.notifyCommandChanged();
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

  if (sidecar.hasFeature('check')) {
    activateChecking({
      app,
      notebooks,
      palette,
      lint: request => sidecar.requests.lint(request),
      settings: () => settings,
      trans
    });
  }

  const apply = (next: ILintSettings): void => {
    settings = next;
    onSave.enabled = next.formatOnSave;
  };
  // Start the server's formatter processes now (an empty request does that),
  // so that the first format the user asks for does not wait for them.
  void loadSettings(registry, apply)
    .then(() => app.restored)
    .then(() => sidecar.requests.lint(lintRequest([], null, settings)))
    .catch(reason =>
      console.debug('jupyter-sidecar-ext: formatter warm-up failed', reason)
    );
}

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

export default lintPlugin;
