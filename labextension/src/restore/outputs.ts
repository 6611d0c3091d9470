/**
 * Pure rules of output restoring: when a recorded execution may be put back
 * into a page cell, output comparison, and applying iopub messages to an
 * output area model as JupyterLab's `OutputArea` does.
 */

import type { ICodeCellModel } from '@jupyterlab/cells';
import type * as nbformat from '@jupyterlab/nbformat';
import type { IOutputAreaModel } from '@jupyterlab/outputarea';
import type { IOutputModel } from '@jupyterlab/rendermime';
import type { KernelMessage } from '@jupyterlab/services';
import type { PartialJSONObject } from '@lumino/coreutils';

import { FINAL_STATUSES, IShadowCell, SkipReason } from './types';

/**
 * What to do with one recorded execution for one page cell.
 *
 * - `fill`: replace the page cell's outputs and execution count;
 * - `follow`: as `fill`, and the execution is still queued or running: show
 *   it as running and keep applying its iopub messages;
 * - `same`: the page already shows exactly this;
 * - `skip`: never touch the page cell (see {@link SkipReason}).
 */
export type Decision =
  | { action: 'fill' | 'follow' | 'same' }
  | { action: 'skip'; reason: SkipReason };

/**
 * What the page shows for a cell, as far as the decision needs it.
 */
export interface IPageCell {
  source: string;
  executionCount: number | null;
  running: boolean;
  outputs: nbformat.IOutput[];
}

/**
 * The page state of a code cell model.
 */
export function pageCell(model: ICodeCellModel): IPageCell {
  return {
    source: model.sharedModel.getSource(),
    executionCount: model.executionCount,
    running: model.executionState === 'running',
    outputs: model.outputs.toJSON()
  };
}

/**
 * Whether a recorded execution of the session's (live) kernel may be put
 * back into a page cell with the same id.
 *
 * Rules, in order:
 * 1. an execution from an earlier kernel run (`stale`) is never put back;
 * 2. a cell the page is executing itself is left to JupyterLab;
 * 3. a cell whose source differs from the recorded source was edited;
 * 4. an execution still queued or running is the newest of this cell on this
 *    kernel: it is shown and followed;
 * 5. a finished execution older than what the page shows (the page's
 *    execution count is higher, or the page shows a count and the record
 *    has none) is not put back;
 * 6. identical outputs and count: nothing to do; otherwise fill.
 */
export function decide(page: IPageCell, shadow: IShadowCell): Decision {
  if (shadow.stale) {
    return { action: 'skip', reason: 'stale' };
  }
  if (page.running) {
    return { action: 'skip', reason: 'busy' };
  }
  if (page.source !== shadow.source) {
    return { action: 'skip', reason: 'edited' };
  }
  if (!FINAL_STATUSES.has(shadow.status)) {
    return { action: 'follow' };
  }
  if (
    page.executionCount !== null &&
    (shadow.execution_count === null ||
      page.executionCount > shadow.execution_count)
  ) {
    return { action: 'skip', reason: 'newer' };
  }
  if (
    page.executionCount === shadow.execution_count &&
    sameOutputs(page.outputs, shadow.outputs)
  ) {
    return { action: 'same' };
  }
  return { action: 'fill' };
}

/**
 * Whether outputs recorded by an earlier kernel may be offered to a page cell:
 * same source, and the page cell shows no outputs and is not executing.
 */
export function canOffer(page: IPageCell, recorded: IShadowCell): boolean {
  return (
    recorded.outputs.length > 0 &&
    !page.running &&
    page.outputs.length === 0 &&
    page.source === recorded.source
  );
}

/**
 * Whether two output lists show the same thing (multiline strings joined,
 * `transient` ignored, missing metadata taken as empty, key order ignored).
 */
export function sameOutputs(
  a: readonly nbformat.IOutput[],
  b: readonly nbformat.IOutput[]
): boolean {
  if (a.length !== b.length) {
    return false;
  }
  return a.every(
    (output, i) =>
      JSON.stringify(canonical(output)) === JSON.stringify(canonical(b[i]))
  );
}

/**
 * Replace the outputs of an output area model.
 *
 * Outputs are cleared then added one by one, which also drops a pending
 * `clear_output(wait=True)` and lets the next stream chunk merge with the
 * last stream output, as in a live output area.
 */
export function setOutputs(
  outputs: IOutputAreaModel,
  values: readonly nbformat.IOutput[]
): void {
  outputs.clear();
  for (const value of values) {
    outputs.add(value);
  }
}

/**
 * Put outputs from the server's record of the session's live kernel into a
 * page cell, trusted as outputs the page receives live are (JupyterLab trusts
 * a cell when it runs it; the record is private to the user, README
 * "Security"): widget views then render from the kernel's live widget state,
 * whatever the trust of the notebook file.
 */
export function putRecorded(
  model: ICodeCellModel,
  values: readonly nbformat.IOutput[]
): void {
  model.trusted = true;
  setOutputs(model.outputs, values);
}

/**
 * A run of the session's live kernel, as the record or an event tells it.
 */
export interface IKernelRun {
  status: IShadowCell['status'];
  execution_count: number | null;
  stale?: boolean;
  /**
   * The code it ran (events do not carry it).
   */
  source?: string;
}

/**
 * Whether a page cell of a shared document shows a run of the session's live
 * kernel that another writer (another page, or the server itself with
 * jupyter-server-documents) put there: the page then trusts the cell as the
 * page that runs a cell does (JupyterLab trusts a cell when it runs it), so
 * widget views render from the kernel's live widget state.
 *
 * A cell the document shows running shows the outputs of its run (a run
 * clears the cell's old ones when it starts); a finished run is also shown by
 * the cell that shows its execution count. A run still going is trusted only
 * where the document shows it running: queued elsewhere than in the document,
 * the cell may still show older outputs. A cell edited since (other source)
 * is not trusted.
 */
export function showsRun(
  page: Omit<IPageCell, 'outputs'>,
  run: IKernelRun
): boolean {
  if (run.stale || (run.source !== undefined && run.source !== page.source)) {
    return false;
  }
  return (
    page.running ||
    (FINAL_STATUSES.has(run.status) &&
      run.execution_count !== null &&
      page.executionCount === run.execution_count)
  );
}

/**
 * Trust the outputs a page cell of a shared document shows, in this page only
 * (the document and the file keep their trust: saved so, dead widget views
 * would render once their kernel is gone, instead of their fallback).
 *
 * The outputs model's `trusted` setter creates every output again: the cell
 * model would write them into the shared document as new outputs (racing the
 * writer that fills them, the server or another page: doubled outputs), and
 * the output area would stop following the text later appended to the
 * re-created stream (it follows a stream's text from the output it was
 * added). The outputs are trusted in place instead: each output model, and
 * the outputs model for those added from now on (JupyterLab's
 * `OutputAreaModel._trusted`), then each output says it changed so that its
 * views render again, trusted, with the cell model's writer (its
 * `onOutputsChange`) detached meanwhile. A model without these parts is left
 * untrusted. Returns whether the outputs are trusted.
 */
export function trustShown(model: ICodeCellModel): boolean {
  const outputs = model.outputs;
  if (outputs.trusted) {
    return true;
  }
  if (outputs.length === 0) {
    outputs.trusted = true; // nothing to create again
    return true;
  }
  const writer = (model as unknown as { onOutputsChange?: unknown })
    .onOutputsChange;
  const area = outputs as unknown as { _trusted?: unknown };
  const shown: TrustableOutput[] = [];
  for (let i = 0; i < outputs.length; i++) {
    shown.push(outputs.get(i) as TrustableOutput);
  }
  if (
    typeof writer !== 'function' ||
    typeof area._trusted !== 'boolean' ||
    !shown.every(isTrustable)
  ) {
    return false;
  }
  const slot = writer as OutputsSlot;
  const detached = outputs.changed.disconnect(slot, model);
  try {
    area._trusted = true;
    for (const output of shown) {
      output.trusted = true;
    }
    for (const output of shown) {
      output.setData({}); // the output area renders it again
    }
  } finally {
    if (detached) {
      outputs.changed.connect(slot, model);
    }
  }
  return true;
}

type OutputsSlot = (
  sender: IOutputAreaModel,
  args: IOutputAreaModel.ChangedArgs
) => void;

/**
 * An output model whose `trusted` (read-only in its type) may be set: a plain
 * writable property, as in JupyterLab's `OutputModel`.
 */
type TrustableOutput = Omit<IOutputModel, 'trusted'> & { trusted: boolean };

function isTrustable(output: TrustableOutput): boolean {
  const property = Object.getOwnPropertyDescriptor(output, 'trusted');
  return property?.writable === true && typeof output.setData === 'function';
}

/**
 * Widget views show the state of a widget model held by the kernel that made
 * them; the mime type of such a view.
 */
export const WIDGET_VIEW_MIME = 'application/vnd.jupyter.widget-view+json';

/**
 * Outputs recorded by a kernel that is gone, as they can still be shown: a
 * widget view (its model died with the kernel) leaves its recorded fallback
 * (e.g. `text/plain`) instead of a "model not found" error.
 */
export function withoutDeadViews(
  values: readonly nbformat.IOutput[]
): nbformat.IOutput[] {
  return values.map(output => {
    const data = (output as nbformat.IDisplayData).data;
    if (
      (output.output_type !== 'display_data' &&
        output.output_type !== 'execute_result') ||
      typeof data !== 'object' ||
      data === null ||
      !(WIDGET_VIEW_MIME in data) ||
      Object.keys(data).length < 2
    ) {
      return output;
    }
    const { [WIDGET_VIEW_MIME]: _view, ...rest } = data;
    return { ...output, data: rest } as nbformat.IOutput;
  });
}

/**
 * Display ids of the outputs a followed execution added: id -> indices.
 */
export type DisplayMap = Map<string, number[]>;

/**
 * Apply one iopub message answering an execution to its cell's outputs, as
 * JupyterLab's `OutputArea._onIOPub` does (streams merge in
 * `OutputAreaModel.add`, `clear_output` honours `wait`). Display-id updates
 * are left to {@link updateDisplay}.
 *
 * @returns whether the message could change the outputs.
 */
export function applyIOPub(
  outputs: IOutputAreaModel,
  msg: KernelMessage.IIOPubMessage,
  displays: DisplayMap
): boolean {
  const msgType = msg.header.msg_type;
  const content = msg.content as PartialJSONObject;
  const displayId = displayIdOf(msg);
  switch (msgType) {
    case 'execute_result':
    case 'display_data':
    case 'stream':
    case 'error': {
      const { transient: _transient, ...rest } = content;
      outputs.add({ ...rest, output_type: msgType } as nbformat.IOutput);
      if (displayId && msgType === 'display_data') {
        const targets = displays.get(displayId) ?? [];
        targets.push(outputs.length - 1);
        displays.set(displayId, targets);
      }
      return true;
    }
    case 'clear_output':
      outputs.clear(content.wait === true);
      if (content.wait !== true) {
        displays.clear();
      }
      return true;
    default:
      // update_display_data (and display_data/execute_result with a known
      // display id) also update earlier outputs, in every cell: the caller
      // applies `updateDisplay` to every followed cell, as JupyterLab's
      // `KernelConnection._handleDisplayId` does for its futures.
      return false;
  }
}

/**
 * Update the outputs shown with a message's display id (any message with a
 * `transient.display_id` updates earlier outputs with that id).
 */
export function updateDisplay(
  outputs: IOutputAreaModel,
  msg: KernelMessage.IIOPubMessage,
  displays: DisplayMap
): boolean {
  const displayId = displayIdOf(msg);
  const targets = displayId ? displays.get(displayId) : undefined;
  if (!targets) {
    return false;
  }
  const { transient: _transient, ...rest } = msg.content as PartialJSONObject;
  const output = { ...rest, output_type: 'display_data' } as nbformat.IOutput;
  for (const index of targets) {
    if (index < outputs.length) {
      outputs.set(index, output);
    }
  }
  return true;
}

/**
 * The `transient.display_id` of a message, if any.
 */
export function displayIdOf(msg: KernelMessage.IIOPubMessage): string | null {
  const transient = (msg.content as PartialJSONObject).transient;
  if (typeof transient === 'object' && transient !== null) {
    const id = (transient as PartialJSONObject).display_id;
    return typeof id === 'string' && id ? id : null;
  }
  return null;
}

/**
 * Parent msg_id of a message, if it answers a request.
 */
export function parentMsgId(msg: KernelMessage.IMessage): string | null {
  const parent = msg.parent_header as Partial<KernelMessage.IHeader>;
  return typeof parent?.msg_id === 'string' ? parent.msg_id : null;
}

function canonical(output: nbformat.IOutput): unknown {
  const copy: { [key: string]: unknown } = { ...output };
  delete copy.transient;
  if (copy.output_type === 'stream' && Array.isArray(copy.text)) {
    copy.text = copy.text.join('');
  }
  if (
    copy.output_type === 'display_data' ||
    copy.output_type === 'execute_result'
  ) {
    copy.metadata = copy.metadata ?? {};
    const data = (copy.data ?? {}) as { [mime: string]: unknown };
    const joined: { [mime: string]: unknown } = {};
    for (const [mime, value] of Object.entries(data)) {
      joined[mime] =
        Array.isArray(value) && !isJsonMime(mime) ? value.join('') : value;
    }
    copy.data = joined;
  }
  return sortKeys(copy);
}

function isJsonMime(mime: string): boolean {
  return /^application\/(.*\+)?json$/.test(mime);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (typeof value === 'object' && value !== null) {
    const sorted: { [key: string]: unknown } = {};
    for (const key of Object.keys(value).sort()) {
      sorted[key] = sortKeys((value as { [key: string]: unknown })[key]);
    }
    return sorted;
  }
  return value;
}
