"""Fixes round-trip: applying every `fix` edit the server returns (as a client would, by line
and column within the cell) gives cells ruff no longer flags for those problems, with every
magic line intact, however the magics shift ruff's lines (continued magics, cell magics,
indented shell escapes)."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from jupyter_sidecar_ext.lint.check import find_ruff

pytestmark = pytest.mark.skipif(find_ruff() is None, reason="ruff is not installed")

CELLS = [
    "import os\n%matplotlib inline\nimport sys\nprint(sys.argv)",
    "%time \\\n  slow()\nx = f'a'\nprint(x)",
    "%%time\nimport json\ny = f'{x}' if x else f'b'\nprint(y)",
    "if x:\n    !ls -la\n    z = f'q'\n    print(z)",
    "import re, shutil\n%load_ext autoreload\nprint(re)",
    "files = !ls\nw = f'n'  # comment\nprint(files, w)",
    "%%bash\necho f'a'",
    "def f():\n    %time v = 1\n    return f'{v}' + f'x'",
]


def apply_edits(source: str, diagnostics: list[dict[str, Any]]) -> str:
    """Every fix's edits, last first; positions are 1-based (line, column) in the cell."""
    lines = source.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))

    def offset(where: dict[str, int]) -> int:
        return starts[where["line"] - 1] + where["column"] - 1

    edits = [
        (offset(edit["location"]), offset(edit["end_location"]), edit["content"])
        for diagnostic in diagnostics
        if diagnostic.get("fix")
        for edit in diagnostic["fix"]["edits"]
    ]
    edits.sort(reverse=True)
    for (begin, end, _), (_, earlier_end, _) in itertools.pairwise(edits):
        assert earlier_end <= begin <= end  # no overlap, no inverted range
    for begin, end, content in edits:
        source = source[:begin] + content + source[end:]
    return source


async def check(jp_fetch: Any, sources: list[str]) -> list[list[dict[str, Any]]]:
    cells = [{"id": f"c{i}", "source": source} for i, source in enumerate(sources)]
    body = json.dumps({"cells": cells, "check": True})
    response = await jp_fetch("api", "sidecar", "lint", method="POST", body=body)
    return [cell["diagnostics"] for cell in json.loads(response.body)["cells"]]


def magic_lines(source: str) -> list[str]:
    return [line for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]


async def test_applying_every_fix_leaves_nothing_fixable(jp_fetch: Any) -> None:
    before = await check(jp_fetch, CELLS)
    fixable = {(i, d["code"]) for i, found in enumerate(before) for d in found if d.get("fix")}
    # unused imports before magics and in a cell magic, f-strings after continued, indented
    # and assigning magics
    assert {code for _, code in fixable} == {"F401", "F541"}
    assert {i for i, _ in fixable} == {0, 1, 2, 3, 4, 5, 7}
    fixed = [apply_edits(source, found) for source, found in zip(CELLS, before, strict=True)]
    after = await check(jp_fetch, fixed)
    for index, (source, new, found) in enumerate(zip(CELLS, fixed, after, strict=True)):
        assert not [d for d in found if d.get("fix")], (index, new, found)
        assert magic_lines(new) == magic_lines(source), new
        # what had no fix is still there, at the same place when before any edit
        unfixed = [(d["code"], d["message"]) for d in before[index] if not d.get("fix")]
        assert [(d["code"], d["message"]) for d in found] == unfixed, (index, found)
    assert fixed[0] == "%matplotlib inline\nimport sys\nprint(sys.argv)"
    assert fixed[1] == "%time \\\n  slow()\nx = 'a'\nprint(x)"
    assert fixed[2] == "%%time\ny = f'{x}' if x else 'b'\nprint(y)"
    assert fixed[3] == "if x:\n    !ls -la\n    z = 'q'\n    print(z)"
    assert fixed[4] == "import re\n%load_ext autoreload\nprint(re)"
    assert fixed[5] == "files = !ls\nw = 'n'  # comment\nprint(files, w)"
    assert fixed[6] == CELLS[6]
    assert fixed[7] == "def f():\n    %time v = 1\n    return f'{v}' + 'x'"
