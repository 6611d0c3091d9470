/**
 * PendingInputs: input boxes for runs that wait for input (`input()`,
 * `getpass()`) which this page did not start.
 *
 * The kernel sends its input_request only to the page that ran the cell, so
 * a reopened page (or another page) never gets it. The server keeps it on the
 * recorded cell (`input_request`); this shows JupyterLab's own stdin widget
 * for it in the cell, and sends what the user types to the server's answer
 * route (`POST .../kernels/{kernel_id}/input`). Once answered (from any page),
 * the record's `input_request` clears and every page hides its box.
 */

import type { CodeCell } from '@jupyterlab/cells';
import type { Notebook } from '@jupyterlab/notebook';
import { Stdin } from '@jupyterlab/outputarea';
import type { Kernel, KernelMessage } from '@jupyterlab/services';
import type { ITranslator } from '@jupyterlab/translation';
import { Panel, PanelLayout } from '@lumino/widgets';

import { IInputRequest, inputKey } from './types';

/**
 * Answers a kernel's pending input (the server's answer route).
 */
export type AnswerInput = (kernelId: string, value: string) => Promise<void>;

export class PendingInputs {
  constructor(options: PendingInputs.IOptions) {
    this._notebook = options.notebook;
    this._answer = options.answer;
    this._translator = options.translator;
  }

  /**
   * Show the box of a cell's pending input, or hide it (`request` null).
   */
  update(
    kernelId: string,
    cellId: string,
    msgId: string,
    request: IInputRequest | null | undefined
  ): void {
    const shown = this._boxes.get(cellId);
    const key = request ? inputKey(msgId, request) : null;
    if (shown && shown.key === key && !shown.panel.isDisposed) {
      return;
    }
    this.hide(cellId);
    if (request && key) {
      this._show(kernelId, cellId, key, request);
    }
  }

  hide(cellId: string): void {
    const shown = this._boxes.get(cellId);
    if (shown) {
      this._boxes.delete(cellId);
      shown.panel.dispose();
    }
  }

  hideAll(): void {
    for (const cellId of [...this._boxes.keys()]) {
      this.hide(cellId);
    }
  }

  /**
   * Ids of the cells showing a box.
   */
  get cellIds(): string[] {
    return [...this._boxes.keys()];
  }

  private _show(
    kernelId: string,
    cellId: string,
    key: string,
    request: IInputRequest
  ): void {
    const cell = this._notebook.widgets.find(
      widget => widget.model.id === cellId && widget.model.type === 'code'
    ) as CodeCell | undefined;
    if (!cell) {
      return;
    }
    const outputArea = cell.outputArea;
    const panel = new Panel();
    panel.addClass('jp-OutputArea-child');
    panel.addClass('jp-OutputArea-stdin-item');
    const prompt = outputArea.contentFactory.createOutputPrompt();
    prompt.addClass('jp-OutputArea-prompt');
    panel.addWidget(prompt);
    // Stdin sends the answer through its future: here, the server's route.
    const future = {
      sendInputReply: (content: KernelMessage.IInputReply) => {
        const value = content.status === 'ok' ? content.value : '';
        this._answer(kernelId, value).catch(reason =>
          console.warn('jupyter-sidecar-ext: answering input failed', reason)
        );
      }
    } as unknown as Kernel.IShellFuture;
    const input = new Stdin({
      parent_header: {} as KernelMessage.IHeader<'input_request'>,
      prompt: request.prompt,
      password: request.password,
      future,
      translator: this._translator
    });
    input.addClass('jp-OutputArea-output');
    panel.addWidget(input);
    (outputArea.layout as PanelLayout).addWidget(panel);
    this._boxes.set(cellId, { key, panel });
    void input.value.then(() => {
      if (this._boxes.get(cellId)?.panel === panel) {
        this.hide(cellId); // answered here: the record clears it for the others
      }
    });
  }

  private _notebook: Notebook;
  private _answer: AnswerInput;
  private _translator: ITranslator | undefined;
  private _boxes = new Map<string, { key: string; panel: Panel }>();
}

export namespace PendingInputs {
  export interface IOptions {
    notebook: Notebook;
    answer: AnswerInput;
    translator?: ITranslator;
  }
}
