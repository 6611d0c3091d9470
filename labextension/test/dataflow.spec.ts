import {
  cellMarkers,
  INotebookCell,
  ITranslate,
  markerTooltip,
  reasonText
} from '../src/dataflow/markers';
import {
  inPlanOrder,
  planRequest,
  reactiveFollowUps,
  shouldRefetch
} from '../src/dataflow/plan';
import type { IDataflow, IDataflowCell } from '../src/dataflow/types';
import type { ICellChangedEvent } from '../src/tokens';

/**
 * gettext's `%1`, `%2` substitution, untranslated.
 */
const trans: ITranslate = {
  __: (msgid: string, ...args: unknown[]) =>
    msgid.replace(/%(\d)/g, (_, n) => String(args[Number(n) - 1]))
};

function cell(
  id: string,
  source: string,
  fields: Partial<IDataflowCell> = {}
): IDataflowCell {
  return {
    id,
    execution_count: null,
    source,
    defines: [],
    uses: [],
    stale_because: [],
    hidden_names: [],
    analysed: true,
    ...fields
  };
}

/**
 * `x = 1` / `y = x + 1` / `print(y)` ran as [1] [2] [3], then the first cell
 * again as `x = 5` [4].
 */
function rerunFirst(): { dataflow: IDataflow; notebook: INotebookCell[] } {
  const notebook = [
    { id: 'a', source: 'x = 5' },
    { id: 'b', source: 'y = x + 1' },
    { id: 'c', source: 'print(y)' }
  ];
  const dataflow: IDataflow = {
    kernel_id: 'k',
    cells: [
      cell('b', 'y = x + 1', {
        execution_count: 2,
        defines: ['y'],
        uses: ['x'],
        stale_because: [
          { name: 'x', cell_id: 'a', execution_count: 4, at: 't4' }
        ]
      }),
      cell('c', 'print(y)', { execution_count: 3, uses: ['y'] }),
      cell('a', 'x = 5', { execution_count: 4, defines: ['x'] })
    ],
    edges: [
      { from: 'a', to: 'b', names: ['x'] },
      { from: 'b', to: 'c', names: ['y'] }
    ]
  };
  return { dataflow, notebook };
}

function tooltips(
  dataflow: IDataflow,
  notebook: INotebookCell[]
): Record<string, string> {
  const shown: Record<string, string> = {};
  for (const [id, marker] of cellMarkers(dataflow, notebook)) {
    shown[id] = `${marker.kind}: ${markerTooltip(marker, trans)}`;
  }
  return shown;
}

describe('dataflow markers', () => {
  it('marks readers of a redefined name, and their readers', () => {
    const { dataflow, notebook } = rerunFirst();
    expect(tooltips(dataflow, notebook)).toEqual({
      b: 'stale: `x` changed by cell [4] after this ran',
      c: 'stale: uses `y` from cell [2], which is out of date'
    });
  });

  it('marks nothing without an answer, or when all is current', () => {
    const { notebook } = rerunFirst();
    expect(cellMarkers(null, notebook).size).toBe(0);
    const current: IDataflow = {
      kernel_id: 'k',
      cells: [
        cell('a', 'x = 5', { defines: ['x'] }),
        cell('b', 'y = x + 1', { defines: ['y'], uses: ['x'] })
      ],
      edges: [{ from: 'a', to: 'b', names: ['x'] }]
    };
    expect(cellMarkers(current, notebook).size).toBe(0);
  });

  it('marks a cell edited since it ran, and only that cell', () => {
    const { dataflow, notebook } = rerunFirst();
    dataflow.cells[1].stale_because = [];
    dataflow.cells[0].stale_because = [];
    const edited = notebook.map(c =>
      c.id === 'a' ? { ...c, source: 'x = 6' } : c
    );
    expect(tooltips(dataflow, edited)).toEqual({
      a: 'stale: edited since it ran'
    });
  });

  it('marks hidden state when the only defining cell is deleted', () => {
    const { dataflow, notebook } = rerunFirst();
    dataflow.cells[0].stale_because = [];
    const withoutFirst = notebook.filter(c => c.id !== 'a');
    expect(tooltips(dataflow, withoutFirst)).toEqual({
      b: 'hidden: uses `x`, which no cell of this notebook defines'
    });
  });

  it('takes the hidden names the server found, with the other reasons', () => {
    const dataflow: IDataflow = {
      kernel_id: 'k',
      cells: [
        cell('a', 'q = 5', { defines: ['q'] }),
        cell('b', 'w = z * q', {
          uses: ['q', 'z'],
          hidden_names: ['z'],
          stale_because: [
            { name: 'q', cell_id: 'a', execution_count: null, at: null }
          ]
        })
      ],
      edges: []
    };
    const notebook = [
      { id: 'a', source: 'q = 5' },
      { id: 'b', source: 'w = z * q  # edited' }
    ];
    expect(tooltips(dataflow, notebook)).toEqual({
      b:
        'hidden: uses `z`, which no cell of this notebook defines\n' +
        '`q` changed by another cell after this ran\n' +
        'edited since it ran'
    });
  });

  it('ends on cycles and names each upstream cell once', () => {
    const dataflow: IDataflow = {
      kernel_id: 'k',
      cells: [
        cell('a', 'x = y', {
          execution_count: 5,
          defines: ['x'],
          uses: ['y'],
          stale_because: [
            { name: 'y', cell_id: 'b', execution_count: 6, at: null }
          ]
        }),
        cell('b', 'y = x', { execution_count: 6, defines: ['y'], uses: ['x'] })
      ],
      edges: [
        { from: 'b', to: 'a', names: ['y'] },
        { from: 'a', to: 'b', names: ['x'] }
      ]
    };
    const notebook = [
      { id: 'a', source: 'x = y' },
      { id: 'b', source: 'y = x' }
    ];
    expect(tooltips(dataflow, notebook)).toEqual({
      a: 'stale: `y` changed by cell [6] after this ran',
      b: 'stale: uses `x` from cell [5], which is out of date'
    });
  });

  it('leaves out cells the notebook does not have (their names: hidden)', () => {
    const { dataflow } = rerunFirst();
    expect(tooltips(dataflow, [{ id: 'c', source: 'print(y)' }])).toEqual({
      c: 'hidden: uses `y`, which no cell of this notebook defines'
    });
  });

  it('names several upstream names in one line', () => {
    expect(
      reasonText(
        {
          kind: 'upstream',
          names: ['a', 'b'],
          cellId: 'x',
          executionCount: 3
        },
        trans
      )
    ).toBe('uses `a`, `b` from cell [3], which is out of date');
  });
});

describe('dataflow plans', () => {
  it('sends the code cells as they are', () => {
    expect(
      planRequest([{ id: 'a', source: 'x = 1' }], 'a', 'downstream')
    ).toEqual({
      cells: [{ id: 'a', source: 'x = 1' }],
      target: 'a',
      direction: 'downstream'
    });
  });

  it('maps a plan onto the cells in its order, once each', () => {
    const cells = ['a', 'b', 'c', 'd'].map(id => ({ id }));
    expect(
      inPlanOrder(['c', 'a', 'gone', 'c', 'd'], cells, c => c.id).map(c => c.id)
    ).toEqual(['c', 'a', 'd']);
    expect(inPlanOrder([], cells, c => c.id)).toEqual([]);
  });

  it('follows a run with its dependents not already waiting', () => {
    expect(reactiveFollowUps(['a', 'b', 'c'], 'a', new Set(['c']))).toEqual([
      'b'
    ]);
    expect(reactiveFollowUps(['a'], 'a', new Set())).toEqual([]);
  });
});

describe('dataflow refetch', () => {
  const event = (fields: Partial<ICellChangedEvent>): ICellChangedEvent => ({
    kernel_id: 'k',
    cell_id: 'b',
    msg_id: 'm',
    status: 'running',
    execution_count: null,
    seq: 1,
    ...fields
  });

  it('asks again when an execution ends', () => {
    for (const status of ['ok', 'error', 'aborted'] as const) {
      expect(shouldRefetch(event({ status }), new Map())).toBe(true);
    }
    expect(shouldRefetch(event({ status: 'queued' }), new Map())).toBe(false);
    expect(shouldRefetch(event({}), new Map())).toBe(false);
  });

  it('asks again when a count of stale inputs moved', () => {
    const known = new Map([['b', 1]]);
    expect(shouldRefetch(event({ stale_inputs: 1 }), known)).toBe(false);
    expect(shouldRefetch(event({ stale_inputs: 0 }), known)).toBe(true);
    expect(shouldRefetch(event({ stale_inputs: 0 }), new Map())).toBe(false);
    expect(shouldRefetch(event({ cell_id: 'c', stale_inputs: 2 }), known)).toBe(
      true
    );
  });
});
