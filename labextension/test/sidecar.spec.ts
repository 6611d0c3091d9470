import type { Event } from '@jupyterlab/services';
import { Signal } from '@lumino/signaling';

import {
  CELL_CHANGED_SCHEMA,
  EXECUTION_FINISHED_SCHEMA,
  VARIABLES_UPDATED_SCHEMA
} from '../src/events';
import { Sidecar } from '../src/sidecar';
import type { IServerInfo, ISidecarRequests } from '../src/tokens';

function requests(info: () => Promise<IServerInfo>): ISidecarRequests {
  return { info } as unknown as ISidecarRequests;
}

describe('Sidecar', () => {
  let stream: Signal<unknown, Event.Emission>;
  let log: jest.SpyInstance;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    stream = new Signal<unknown, Event.Emission>({});
    log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  });

  afterEach(() => {
    log.mockRestore();
    warn.mockRestore();
  });

  it('knows the server features once ready', async () => {
    const sidecar = new Sidecar({
      events: stream,
      requests: requests(async () => ({
        version: '1.2.3',
        features: ['record', 'lint']
      }))
    });
    expect(sidecar.hasFeature('lint')).toBe(false);
    await sidecar.ready;
    expect(sidecar.version).toBe('1.2.3');
    expect(sidecar.hasFeature('lint')).toBe(true);
    expect(sidecar.hasFeature('variables')).toBe(false);
    expect(log).toHaveBeenCalledWith(
      'jupyter-sidecar-ext: server sidecar 1.2.3 (record, lint)'
    );
  });

  it('offers nothing when the server extension does not answer', async () => {
    const sidecar = new Sidecar({
      events: stream,
      requests: requests(() => Promise.reject(new Error('404')))
    });
    await expect(sidecar.ready).resolves.toBeUndefined();
    expect(sidecar.version).toBeNull();
    expect(sidecar.features).toEqual([]);
    expect(warn).toHaveBeenCalled();
  });

  it('turns the one event stream into typed signals', async () => {
    const sidecar = new Sidecar({
      events: stream,
      requests: requests(async () => ({ version: '1', features: [] }))
    });
    const cells: string[] = [];
    const variables: string[] = [];
    const finished: string[] = [];
    sidecar.cellChanged.connect((_, event) => cells.push(event.cell_id));
    sidecar.executionFinished.connect((_, event) =>
      finished.push(`${event.msg_id} ${event.status}`)
    );
    sidecar.variablesUpdated.connect((_, event) =>
      variables.push(event.kernel_id)
    );
    const emit = (data: Record<string, unknown>) =>
      stream.emit(data as unknown as Event.Emission);
    emit({
      schema_id: CELL_CHANGED_SCHEMA,
      kernel_id: 'k',
      cell_id: 'c',
      msg_id: 'm',
      status: 'running'
    });
    emit({ schema_id: VARIABLES_UPDATED_SCHEMA, kernel_id: 'k', state: 'ok' });
    emit({
      schema_id: EXECUTION_FINISHED_SCHEMA,
      kernel_id: 'k',
      cell_id: 'c',
      msg_id: 'm',
      status: 'error',
      unwatched: true
    });
    emit({ schema_id: 'https://events.jupyter.org/other/v1' });
    expect(cells).toEqual(['c']);
    expect(finished).toEqual(['m error']);
    expect(variables).toEqual(['k']);
    sidecar.dispose();
    emit({ schema_id: VARIABLES_UPDATED_SCHEMA, kernel_id: 'k', state: 'ok' });
    expect(variables).toEqual(['k']);
  });
});
