import {
  asCellChanged,
  asInputRequest,
  asVariablesUpdated,
  CELL_CHANGED_SCHEMA,
  VARIABLES_UPDATED_SCHEMA
} from '../src/events';
import { inputKey } from '../src/restore/types';

describe('server events', () => {
  it('reads cell_changed events', () => {
    expect(
      asCellChanged({
        schema_id: CELL_CHANGED_SCHEMA,
        kernel_id: 'k',
        cell_id: 'c',
        msg_id: 'm',
        status: 'ok',
        execution_count: 2,
        seq: 7
      })
    ).toEqual({
      kernel_id: 'k',
      cell_id: 'c',
      msg_id: 'm',
      status: 'ok',
      execution_count: 2,
      seq: 7,
      input_request: null
    });
  });

  it('reads the pending input of cell_changed events', () => {
    const event = asCellChanged({
      schema_id: CELL_CHANGED_SCHEMA,
      kernel_id: 'k',
      cell_id: 'c',
      msg_id: 'm',
      status: 'running',
      execution_count: null,
      seq: 8,
      input_request: { prompt: 'name? ', password: false }
    });
    expect(event?.input_request).toEqual({ prompt: 'name? ', password: false });
    expect(asInputRequest({ password: true })).toEqual({
      prompt: '',
      password: true
    });
    expect(asInputRequest(null)).toBeNull();
    expect(asInputRequest('name?')).toBeNull();
  });

  it('reads the count of stale inputs of cell_changed events', () => {
    const base = {
      schema_id: CELL_CHANGED_SCHEMA,
      kernel_id: 'k',
      cell_id: 'c',
      msg_id: 'm',
      status: 'ok',
      seq: 9
    };
    expect(asCellChanged({ ...base, stale_inputs: 2 })?.stale_inputs).toBe(2);
    expect(asCellChanged({ ...base, stale_inputs: 0 })?.stale_inputs).toBe(0);
    expect(asCellChanged(base)).not.toHaveProperty('stale_inputs');
    expect(asCellChanged({ ...base, stale_inputs: '2' })).not.toHaveProperty(
      'stale_inputs'
    );
  });

  it('keys an input box by run and request', () => {
    const asked = { prompt: 'name? ', password: false };
    expect(inputKey('m', asked)).toEqual(inputKey('m', { ...asked }));
    expect(inputKey('m', asked)).not.toEqual(inputKey('m2', asked));
    expect(inputKey('m', asked)).not.toEqual(
      inputKey('m', { ...asked, password: true })
    );
  });

  it('ignores other and malformed emissions', () => {
    const base = { kernel_id: 'k', cell_id: 'c', msg_id: 'm', status: 'ok' };
    expect(asCellChanged({ schema_id: 'other', ...base })).toBeNull();
    expect(
      asCellChanged({ schema_id: CELL_CHANGED_SCHEMA, ...base, status: 'x' })
    ).toBeNull();
    expect(asVariablesUpdated({ schema_id: CELL_CHANGED_SCHEMA })).toBeNull();
  });

  it('reads variables_updated events', () => {
    expect(
      asVariablesUpdated({
        schema_id: VARIABLES_UPDATED_SCHEMA,
        kernel_id: 'k',
        state: 'ok',
        execution_count: 4,
        count: 3
      })
    ).toEqual({
      kernel_id: 'k',
      state: 'ok',
      execution_count: 4,
      count: 3,
      stale: null,
      rows_version: null
    });
    expect(
      asVariablesUpdated({
        schema_id: VARIABLES_UPDATED_SCHEMA,
        kernel_id: 'k',
        state: 'ok',
        execution_count: 4,
        count: 3,
        stale: false,
        rows_version: 'v1'
      })
    ).toMatchObject({ stale: false, rows_version: 'v1' });
    expect(
      asVariablesUpdated({ schema_id: VARIABLES_UPDATED_SCHEMA, kernel_id: 1 })
    ).toBeNull();
  });
});
