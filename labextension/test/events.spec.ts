import {
  asCellChanged,
  asVariablesUpdated,
  CELL_CHANGED_SCHEMA,
  VARIABLES_UPDATED_SCHEMA
} from '../src/events';

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
      seq: 7
    });
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
    ).toEqual({ kernel_id: 'k', state: 'ok', execution_count: 4 });
    expect(
      asVariablesUpdated({ schema_id: VARIABLES_UPDATED_SCHEMA, kernel_id: 1 })
    ).toBeNull();
  });
});
