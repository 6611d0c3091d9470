/**
 * Reading the server's events (jupyter_server's event bus, as the service
 * manager's `events.stream` delivers them) into typed data. Pure: emissions
 * that are not ours, or malformed, read as null.
 */

import type { CellStatus, IInputRequest } from './restore/types';
import type {
  ICellChangedEvent,
  IExecutionFinishedEvent,
  IVariablesUpdatedEvent
} from './tokens';

/**
 * Schema of the server's `cell_changed` events.
 */
export const CELL_CHANGED_SCHEMA =
  'https://events.jupyter.org/jupyter_sidecar_ext/cell_changed/v1';

/**
 * Schema of the server's `variables_updated` events.
 */
export const VARIABLES_UPDATED_SCHEMA =
  'https://events.jupyter.org/jupyter_sidecar_ext/variables_updated/v1';

/**
 * Schema of the server's `execution_finished` events.
 */
export const EXECUTION_FINISHED_SCHEMA =
  'https://events.jupyter.org/jupyter_sidecar_ext/execution_finished/v1';

/**
 * One emission of the event stream (`Event.Emission` of @jupyterlab/services).
 */
export interface IEmission {
  schema_id: string;
  [key: string]: unknown;
}

const STATUSES: ReadonlySet<unknown> = new Set<CellStatus>([
  'queued',
  'running',
  'ok',
  'error',
  'aborted'
]);

/**
 * The data of a `cell_changed` event, or null for any other emission.
 */
export function asCellChanged(emission: IEmission): ICellChangedEvent | null {
  if (emission.schema_id !== CELL_CHANGED_SCHEMA) {
    return null;
  }
  const { kernel_id, cell_id, msg_id, status, execution_count, seq } = emission;
  if (
    typeof kernel_id !== 'string' ||
    typeof cell_id !== 'string' ||
    typeof msg_id !== 'string' ||
    !STATUSES.has(status)
  ) {
    return null;
  }
  return {
    kernel_id,
    cell_id,
    msg_id,
    status: status as CellStatus,
    execution_count:
      typeof execution_count === 'number' ? execution_count : null,
    seq: typeof seq === 'number' ? seq : 0,
    input_request: asInputRequest(emission.input_request),
    ...(typeof emission.stale_inputs === 'number'
      ? { stale_inputs: emission.stale_inputs }
      : {})
  };
}

/**
 * A pending input of an event or record ({prompt, password}), else null.
 */
export function asInputRequest(value: unknown): IInputRequest | null {
  if (typeof value !== 'object' || value === null) {
    return null;
  }
  const { prompt, password } = value as Record<string, unknown>;
  return {
    prompt: typeof prompt === 'string' ? prompt : '',
    password: password === true
  };
}

/**
 * The data of a `variables_updated` event, or null for any other emission.
 */
export function asVariablesUpdated(
  emission: IEmission
): IVariablesUpdatedEvent | null {
  if (emission.schema_id !== VARIABLES_UPDATED_SCHEMA) {
    return null;
  }
  const { kernel_id, state, execution_count, count, stale, rows_version } =
    emission;
  if (typeof kernel_id !== 'string') {
    return null;
  }
  return {
    kernel_id,
    state:
      state === 'ok' || state === 'unavailable' || state === 'pending'
        ? state
        : 'pending',
    execution_count:
      typeof execution_count === 'number' ? execution_count : null,
    count: typeof count === 'number' ? count : null,
    stale: typeof stale === 'boolean' ? stale : null,
    rows_version: typeof rows_version === 'string' ? rows_version : null
  };
}

/**
 * The data of an `execution_finished` event, or null for any other emission.
 */
export function asExecutionFinished(
  emission: IEmission
): IExecutionFinishedEvent | null {
  if (emission.schema_id !== EXECUTION_FINISHED_SCHEMA) {
    return null;
  }
  const { kernel_id, cell_id, msg_id, status, execution_count } = emission;
  const { ename, duration, unwatched } = emission;
  if (
    typeof kernel_id !== 'string' ||
    typeof cell_id !== 'string' ||
    typeof msg_id !== 'string' ||
    (status !== 'ok' && status !== 'error' && status !== 'aborted')
  ) {
    return null;
  }
  return {
    kernel_id,
    cell_id,
    msg_id,
    status,
    execution_count:
      typeof execution_count === 'number' ? execution_count : null,
    ename: typeof ename === 'string' ? ename : null,
    duration: typeof duration === 'number' ? duration : null,
    unwatched: unwatched === true
  };
}
