import {
  applyEdits,
  countDiagnostics,
  diagnosticRange,
  fixEdits,
  lineStarts,
  RequestGenerations,
  toOffset
} from '../src/lint/diagnostics';
import { checkRequest } from '../src/lint/settings';
import type { IDiagnostic, IFix } from '../src/lint/types';

function diagnostic(
  line: number,
  column: number,
  endLine: number,
  endColumn: number,
  fix?: IFix
): IDiagnostic {
  return {
    line,
    column,
    end_line: endLine,
    end_column: endColumn,
    code: 'F401',
    message: '`os` imported but unused',
    severity: 'warning',
    fix
  };
}

function edit(
  line: number,
  column: number,
  endLine: number,
  endColumn: number,
  content = ''
): IFix['edits'][number] {
  return {
    content,
    location: { line, column },
    end_location: { line: endLine, column: endColumn }
  };
}

describe('position mapping', () => {
  const text = 'import os\nimport sys\nx = 1';

  it('finds the starts of lines for every kind of line break', () => {
    expect(lineStarts('a\nbc\r\nd\re')).toEqual([0, 2, 6, 8]);
    expect(lineStarts('')).toEqual([0]);
    expect(lineStarts('a\n')).toEqual([0, 2]);
  });

  it('maps 1-based lines and columns to offsets', () => {
    expect(toOffset(text, { line: 1, column: 1 })).toBe(0);
    expect(toOffset(text, { line: 1, column: 8 })).toBe(7);
    expect(toOffset(text, { line: 2, column: 1 })).toBe(10);
    expect(toOffset(text, { line: 3, column: 6 })).toBe(text.length);
  });

  it('stops at the end of the line and of the text', () => {
    expect(toOffset(text, { line: 1, column: 99 })).toBe(9);
    expect(toOffset(text, { line: 9, column: 1 })).toBe(text.length);
    expect(toOffset('a\r\nb', { line: 1, column: 5 })).toBe(1);
  });

  it('counts columns in code points, as Python does', () => {
    // The emoji is one column for ruff and two UTF-16 units here.
    const emoji = 's = "\u{1F600}"; import os';
    const column = [...emoji].indexOf('i') + 1;
    expect(toOffset(emoji, { line: 1, column })).toBe(emoji.indexOf('import'));
  });

  it('gives the range of a diagnostic, never backwards', () => {
    // F401 for `os`: line 1, columns 8 to 10 (end excluded).
    const range = diagnosticRange(text, diagnostic(1, 8, 1, 10));
    expect(text.slice(range.from, range.to)).toBe('os');
    const whole = diagnosticRange(text, diagnostic(1, 1, 3, 6));
    expect(text.slice(whole.from, whole.to)).toBe(text);
    expect(diagnosticRange(text, diagnostic(2, 5, 1, 1))).toEqual({
      from: 14,
      to: 14
    });
  });
});

describe('fixes', () => {
  const text = 'import os\nimport sys\nprint(f"x")\n';

  it('applies a fix that removes a line', () => {
    const fix = { message: 'Remove unused import', edits: [edit(1, 1, 2, 1)] };
    expect(applyEdits(text, fixEdits(text, [fix]))).toBe(
      'import sys\nprint(f"x")\n'
    );
  });

  it('applies several fixes, last first', () => {
    const removeOs = { message: 'remove', edits: [edit(1, 1, 2, 1)] };
    const plainString = {
      message: 'Remove extraneous f prefix',
      edits: [edit(3, 7, 3, 8)]
    };
    const edits = fixEdits(text, [removeOs, plainString]);
    expect(edits.map(e => e.start)).toEqual([27, 0]);
    expect(applyEdits(text, edits)).toBe('import sys\nprint("x")\n');
  });

  it('applies a fix of several edits as a whole', () => {
    const fix = {
      message: 'swap',
      edits: [edit(1, 8, 1, 10, 'sys'), edit(2, 8, 2, 11, 'os')]
    };
    expect(applyEdits(text, fixEdits(text, [fix]))).toBe(
      'import sys\nimport os\nprint(f"x")\n'
    );
  });

  it('leaves out a fix that overlaps one already taken', () => {
    const first = { message: 'a', edits: [edit(1, 1, 2, 1)] };
    const overlapping = { message: 'b', edits: [edit(1, 8, 1, 10, 'io')] };
    const sameStart = { message: 'c', edits: [edit(1, 1, 1, 1, '# ')] };
    expect(
      applyEdits(text, fixEdits(text, [first, overlapping, sameStart]))
    ).toBe('import sys\nprint(f"x")\n');
  });

  it('counts diagnostics by severity and fixability', () => {
    const fixable = diagnostic(1, 8, 1, 10, {
      message: 'remove',
      edits: [edit(1, 1, 2, 1)]
    });
    const error: IDiagnostic = {
      ...diagnostic(3, 1, 3, 2),
      severity: 'error',
      code: 'F821'
    };
    expect(countDiagnostics([[fixable], [], [error]])).toEqual({
      errors: 1,
      warnings: 1,
      fixable: 1
    });
  });
});

describe('RequestGenerations', () => {
  it('keeps only the answer of the latest request', async () => {
    const generations = new RequestGenerations();
    const shown: string[] = [];
    const answer = (value: string, delay: number) =>
      new Promise<string>(resolve => setTimeout(() => resolve(value), delay));
    const check = async (value: string, delay: number) => {
      const generation = generations.next();
      const result = await answer(value, delay);
      if (generations.isLatest(generation)) {
        shown.push(result);
      }
    };
    // The first check answers last: it is stale by then and dropped.
    await Promise.all([check('before the edit', 30), check('after', 1)]);
    expect(shown).toEqual(['after']);
  });

  it('drops every answer once invalidated', () => {
    const generations = new RequestGenerations();
    const generation = generations.next();
    generations.invalidate();
    expect(generations.isLatest(generation)).toBe(false);
  });
});

describe('checkRequest', () => {
  it('asks for a check of the cells, with the path when there is one', () => {
    const cells = [{ id: 'a', source: 'import os' }];
    expect(checkRequest(cells, 'nb.ipynb')).toEqual({
      cells,
      path: 'nb.ipynb',
      check: true
    });
    expect(checkRequest(cells, null)).toEqual({ cells, check: true });
  });
});
