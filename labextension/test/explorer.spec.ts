/**
 * The variable explorer's pure parts: units, query strings, column widths,
 * the paged row cache and the drill-down tree.
 */

import {
  draggedWidth,
  fitColumns,
  MIN_COLUMN_WIDTH,
  MIN_VALUE_WIDTH
} from '../src/variables/columns';
import { formatBytes, formatCount, formatShape } from '../src/variables/format';
import { RowPageCache } from '../src/variables/pagecache';
import {
  childrenQuery,
  formatKey,
  nodeId,
  rowsQuery
} from '../src/variables/paths';
import {
  isExpandable,
  isTabular,
  TreeRow,
  VariableTree
} from '../src/variables/tree';
import type {
  ChildKey,
  IChild,
  IChildrenPage,
  IVariable
} from '../src/variables/types';

describe('units', () => {
  it.each([
    [null, ''],
    [0, '0 B'],
    [512, '512 B'],
    [1023, '1023 B'],
    [1024, '1.0 KB'],
    [1229, '1.2 KB'],
    [12.5 * 1024 * 1024, '12.5 MB'],
    [125 * 1024 * 1024, '125 MB'],
    [3 * 1024 ** 3, '3.0 GB']
  ])('writes %p bytes as %p', (size, text) => {
    expect(formatBytes(size)).toBe(text);
  });

  it.each([
    [null, 'DataFrame', ''],
    [[2, 2], 'DataFrame', '2 rows x 2 cols'],
    [[1, 1], 'pandas.DataFrame', '1 row x 1 col'],
    [[1000000, 3], 'DataFrame', '1,000,000 rows x 3 cols'],
    [[5], 'Series', '5 rows'],
    [[2, 2], 'ndarray', '(2, 2)'],
    [[5], 'ndarray', '(5,)'],
    [[1000000], 'ndarray', '(1000000,)'],
    [[], 'ndarray', '()'],
    [[5], 'str', '5 chars'],
    [[3], 'bytes', '3 bytes'],
    [[4], 'list', '4 items'],
    [[1], 'dict', '1 item'],
    [[2, 3], 'list', '(2, 3)']
  ])('writes shape %p of a %s as %p', (shape, type, text) => {
    expect(formatShape(shape, type)).toBe(text);
  });

  it('groups thousands the same in every locale', () => {
    expect(formatCount(0)).toBe('0');
    expect(formatCount(999)).toBe('999');
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(-1000)).toBe('-1,000');
  });
});

describe('query strings', () => {
  it('writes the path as URL-encoded JSON', () => {
    const query = childrenQuery(['a b', 0, 'é'], 100, 100);
    expect(query).toBe(
      `?path=${encodeURIComponent('["a b",0,"é"]')}&offset=100&limit=100`
    );
    const path = new URLSearchParams(query).get('path');
    expect(JSON.parse(path!)).toEqual(['a b', 0, 'é']);
    expect(childrenQuery([], 0, 100)).toBe('?path=%5B%5D&offset=0&limit=100');
  });

  it('asks for a sort only when there is one', () => {
    expect(rowsQuery({ offset: 0, limit: 100 })).toBe('?offset=0&limit=100');
    expect(
      rowsQuery({ offset: 200, limit: 100, sort: 'a b', ascending: false })
    ).toBe('?offset=200&limit=100&sort=a%20b&ascending=false');
    expect(rowsQuery({ offset: 0, limit: 1, sort: 'x' })).toBe(
      '?offset=0&limit=1&sort=x&ascending=true'
    );
  });

  it('keeps keys of different types apart', () => {
    expect(nodeId('d', [1])).not.toBe(nodeId('d', ['1']));
    expect(nodeId('d', [])).toBe('["d"]');
    expect(formatKey(3)).toBe('[3]');
    expect(formatKey('k')).toBe('k');
    expect(formatKey(null)).toBe('null');
  });
});

describe('column widths', () => {
  const natural = { name: 200, type: 80, shape: 110, size: 60, value: 400 };

  it('gives type, shape and size what they need, the value the rest', () => {
    const widths = fitColumns(natural, 600);
    expect(widths.type).toBe(80);
    expect(widths.shape).toBe(110);
    expect(widths.size).toBe(60);
    expect(widths.name).toBe(200); // what it needs, up to 40% of the panel
    expect(widths.value).toBe(600 - 200 - 80 - 110 - 60);
    expect(fitColumns({ ...natural, name: 400 }, 600).name).toBe(240);
  });

  it('never cuts type and shape in a narrow panel: the table scrolls', () => {
    const widths = fitColumns(natural, 250);
    expect(widths.type).toBe(80);
    expect(widths.shape).toBe(110);
    expect(widths.value).toBe(MIN_VALUE_WIDTH);
    expect(widths.name).toBe(100);
  });

  it('keeps what the user dragged', () => {
    const widths = fitColumns(natural, 600, { type: 40, name: 300 });
    expect(widths.type).toBe(40);
    expect(widths.name).toBe(300);
    expect(widths.value).toBe(600 - 300 - 40 - 110 - 60);
    expect(fitColumns(natural, 600, { name: 500 }).value).toBe(MIN_VALUE_WIDTH);
    expect(draggedWidth(100, -500)).toBe(MIN_COLUMN_WIDTH);
    expect(draggedWidth(100, 25.4)).toBe(125);
  });
});

describe('RowPageCache', () => {
  function cache(maxPages = 3) {
    const asked: number[] = [];
    const loaded: [number, number][] = [];
    const pending: (() => void)[] = [];
    const rows = new RowPageCache<number>({
      pageSize: 10,
      maxPages,
      fetch: (offset, limit) => {
        asked.push(offset);
        return new Promise(resolve =>
          pending.push(() =>
            resolve({
              offset,
              rows: Array.from({ length: limit }, (_, i) => offset + i)
            })
          )
        );
      },
      onLoaded: (offset, count) => loaded.push([offset, count])
    });
    const flush = async () => {
      while (pending.length) {
        pending.shift()!();
      }
      await new Promise(resolve => setTimeout(resolve, 0));
    };
    return { rows, asked, loaded, flush };
  }

  it('asks for a missing page once and serves its rows', async () => {
    const { rows, asked, loaded, flush } = cache();
    expect(rows.row(15)).toBeUndefined();
    expect(rows.row(19)).toBeUndefined();
    expect(asked).toEqual([10]);
    await flush();
    expect(loaded).toEqual([[10, 10]]);
    expect(rows.row(15)).toBe(15);
    expect(asked).toEqual([10]);
  });

  it('keeps a bounded number of pages, least recently used first out', async () => {
    const { rows, asked, flush } = cache(2);
    rows.row(0);
    rows.row(10);
    await flush();
    rows.row(0); // page 0 used again: page 1 is the oldest
    rows.row(20);
    await flush();
    expect(rows.pageCount).toBe(2);
    expect(rows.row(5)).toBe(5);
    expect(rows.row(25)).toBe(25);
    expect(rows.row(12)).toBeUndefined();
    expect(asked).toEqual([0, 10, 20, 10]);
  });

  it('drops answers that arrive after a clear (another sort)', async () => {
    const { rows, loaded, flush } = cache();
    rows.row(0);
    rows.clear();
    await flush();
    expect(loaded).toEqual([]);
    expect(rows.pageCount).toBe(0);
    expect(rows.row(0)).toBeUndefined();
    await flush();
    expect(rows.row(0)).toBe(0);
  });

  it('reports failures and asks again later', async () => {
    const errors: unknown[] = [];
    let fail = true;
    const rows = new RowPageCache<number>({
      pageSize: 10,
      maxPages: 2,
      fetch: async offset => {
        if (fail) {
          throw new Error('gone');
        }
        return { offset, rows: [offset] };
      },
      onError: reason => errors.push(reason)
    });
    await rows.load(0);
    expect(errors).toHaveLength(1);
    fail = false;
    await rows.load(0);
    expect(rows.row(0)).toBe(0);
  });
});

function variable(name: string, overrides: Partial<IVariable> = {}): IVariable {
  return {
    name,
    type: 'dict',
    value: '{}',
    size: null,
    shape: null,
    ...overrides
  };
}

function child(key: ChildKey, overrides: Partial<IChild> = {}): IChild {
  return {
    key,
    type: 'int',
    value: String(key),
    shape: null,
    size: null,
    expandable: false,
    error: null,
    ...overrides
  };
}

/**
 * A server with `count` children under every path (the first one
 * expandable), answering when `flush()` is called.
 */
function fakeServer(count: number) {
  const calls: {
    name: string;
    path: ChildKey[];
    offset: number;
    limit: number;
  }[] = [];
  const pending: (() => void)[] = [];
  const failures = new Map<string, string>();
  const requests = {
    children: (
      kernelId: string,
      name: string,
      path: ChildKey[],
      offset: number,
      limit: number
    ): Promise<IChildrenPage> => {
      calls.push({ name, path, offset, limit });
      return new Promise((resolve, reject) =>
        pending.push(() => {
          const failure = failures.get(JSON.stringify([name, ...path]));
          if (failure) {
            reject(new Error(failure));
            return;
          }
          const end = Math.min(count, offset + limit);
          const children: IChild[] = [];
          for (let i = offset; i < end; i++) {
            children.push(child(i, { expandable: i === 0 }));
          }
          resolve({
            kernel_id: kernelId,
            name,
            path,
            offset,
            limit,
            total: count,
            children,
            truncated: end < count
          });
        })
      );
    }
  };
  const flush = async () => {
    while (pending.length) {
      pending.shift()!();
      await new Promise(resolve => setTimeout(resolve, 0));
    }
  };
  return { requests, calls, flush, failures };
}

function kinds(rows: TreeRow[]): string[] {
  return rows.map(row =>
    row.kind === 'child'
      ? `${'  '.repeat(row.depth)}${String(row.key)}`
      : row.kind
  );
}

describe('VariableTree', () => {
  it('decides which rows expand and open in the Data Viewer', () => {
    expect(isExpandable(variable('d'))).toBe(true);
    expect(isExpandable(variable('i', { type: 'int' }))).toBe(false);
    expect(isExpandable(variable('s', { type: 'str', shape: [3] }))).toBe(
      false
    );
    expect(isExpandable(variable('e', { type: 'list', shape: [0] }))).toBe(
      false
    );
    expect(isExpandable(variable('o', { type: 'Point' }))).toBe(true);
    expect(isExpandable(variable('x', { type: 'int', expandable: true }))).toBe(
      true
    );
    expect(isTabular({ type: 'DataFrame', shape: [2, 2] })).toBe(true);
    expect(isTabular({ type: 'Series', shape: [2] })).toBe(true);
    expect(isTabular({ type: 'ndarray', shape: [2, 2] })).toBe(true);
    expect(isTabular({ type: 'ndarray', shape: [2, 2, 2] })).toBe(false);
    expect(isTabular({ type: 'list', shape: [2] })).toBe(false);
  });

  it('loads children one level and one page at a time', async () => {
    const server = fakeServer(3);
    const tree = new VariableTree({ requests: server.requests, pageSize: 2 });
    tree.setKernel('k1');
    const variables = [variable('d'), variable('n', { type: 'int' })];
    void tree.expand('d', []);
    expect(kinds(tree.rows(variables))).toEqual([
      'variable',
      'loading',
      'variable'
    ]);
    await server.flush();
    expect(kinds(tree.rows(variables))).toEqual([
      'variable',
      '  0',
      '  1',
      'more',
      'variable'
    ]);
    expect(server.calls).toEqual([
      { name: 'd', path: [], offset: 0, limit: 2 }
    ]);

    void tree.loadMore('d', []);
    await server.flush();
    expect(kinds(tree.rows(variables))).toEqual([
      'variable',
      '  0',
      '  1',
      '  2',
      'variable'
    ]);
    expect(server.calls[1]).toEqual({
      name: 'd',
      path: [],
      offset: 2,
      limit: 2
    });

    void tree.expand('d', [0]);
    await server.flush();
    expect(server.calls[2]).toEqual({
      name: 'd',
      path: [0],
      offset: 0,
      limit: 2
    });
    const rows = tree.rows(variables);
    expect(kinds(rows).slice(0, 5)).toEqual([
      'variable',
      '  0',
      '    0',
      '    1',
      'more'
    ]);
    expect(rows[2].path).toEqual([0, 0]);
    expect(rows[2].depth).toBe(2);

    tree.collapse('d', []);
    expect(tree.isExpanded('d', [0])).toBe(false); // descendants forgotten too
    expect(kinds(tree.rows(variables))).toEqual(['variable', 'variable']);
  });

  it('shows a failed page under its parent only', async () => {
    const server = fakeServer(1);
    server.failures.set('["b"]', 'the kernel took too long');
    const tree = new VariableTree({ requests: server.requests });
    tree.setKernel('k1');
    void tree.expand('a', []);
    void tree.expand('b', []);
    await server.flush();
    const rows = tree.rows([variable('a'), variable('b')]);
    expect(kinds(rows)).toEqual(['variable', '  0', 'variable', 'error']);
    expect(rows[3].kind === 'error' && rows[3].message).toBe(
      'the kernel took too long'
    );
  });

  it('reloads what is expanded after a new snapshot, drops what is gone', async () => {
    const server = fakeServer(1);
    const tree = new VariableTree({ requests: server.requests });
    tree.setKernel('k1');
    void tree.expand('a', []);
    void tree.expand('b', []);
    await server.flush();
    void tree.reload(new Set(['a']));
    await server.flush();
    expect(tree.isExpanded('b', [])).toBe(false);
    expect(server.calls.map(call => call.name)).toEqual(['a', 'b', 'a']);
  });

  it('drops answers for a kernel it no longer follows', async () => {
    const server = fakeServer(1);
    const tree = new VariableTree({ requests: server.requests });
    tree.setKernel('k1');
    void tree.expand('a', []);
    tree.setKernel('k2');
    await server.flush();
    expect(kinds(tree.rows([variable('a')]))).toEqual(['variable']);
  });
});
