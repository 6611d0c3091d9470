import { applyFormatted, minimalEdit } from '../src/lint/edit';
import { DEFAULT_LINT_SETTINGS, lintRequest } from '../src/lint/settings';

function apply(before: string, after: string): string {
  const edit = minimalEdit(before, after);
  return edit
    ? before.slice(0, edit.start) + edit.value + before.slice(edit.end)
    : before;
}

describe('minimalEdit', () => {
  it('is null when nothing changes', () => {
    expect(minimalEdit('same', 'same')).toBeNull();
  });

  it('keeps the common prefix and suffix', () => {
    expect(minimalEdit('x=[1,2 ,3]\n', 'x = [1, 2, 3]\n')).toEqual({
      start: 1,
      end: 8,
      value: ' = [1, 2, '
    });
  });

  it('handles insertions and deletions at either end', () => {
    for (const [before, after] of [
      ['abc', 'abcd'],
      ['abc', 'zabc'],
      ['abcd', 'abc'],
      ['', 'new'],
      ['old', ''],
      ['aaa', 'aa']
    ]) {
      expect(apply(before, after)).toBe(after);
    }
  });

  it('never splits a surrogate pair', () => {
    const before = 'x = "\u{1F600}"';
    const after = 'x = "\u{1F601}"';
    const edit = minimalEdit(before, after)!;
    expect(edit.value).toBe('\u{1F601}');
    expect(apply(before, after)).toBe(after);
  });
});

describe('applyFormatted', () => {
  class FakeSource {
    constructor(public text: string) {}
    stops = 0;
    edits: Array<[number, number, string | undefined]> = [];
    undoManager = { stopCapturing: () => void (this.stops += 1) };
    getSource(): string {
      return this.text;
    }
    updateSource(start: number, end: number, value = ''): void {
      this.edits.push([start, end, value]);
      this.text = this.text.slice(0, start) + value + this.text.slice(end);
    }
  }

  it('edits once, as an undo step of its own', () => {
    const shared = new FakeSource('import sys,os');
    expect(applyFormatted(shared, 'import os\nimport sys')).toBe(true);
    expect(shared.text).toBe('import os\nimport sys');
    expect(shared.edits).toHaveLength(1);
    expect(shared.stops).toBe(2);
  });

  it('leaves an unchanged source alone', () => {
    const shared = new FakeSource('x = 1');
    expect(applyFormatted(shared, 'x = 1')).toBe(false);
    expect(shared.edits).toHaveLength(0);
  });
});

describe('lintRequest', () => {
  it('sends tools, the path and only the options that are set', () => {
    const cells = [{ id: 'a', source: 'x=1' }];
    expect(lintRequest(cells, 'n.ipynb', DEFAULT_LINT_SETTINGS)).toEqual({
      cells,
      path: 'n.ipynb',
      tools: ['isort', 'black']
    });
    const settings = {
      ...DEFAULT_LINT_SETTINGS,
      blackOptions: { 'line-length': 100 }
    };
    expect(lintRequest([], null, settings)).toEqual({
      cells: [],
      tools: ['isort', 'black'],
      options: { black: { 'line-length': 100 } }
    });
  });
});
