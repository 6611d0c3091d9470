"""Diagnostics for notebook cells from ruff's checker, the notebook checked as one program.

This runs in a check worker process (lint/checkpool.py; and in the CLI), never in the
server's: ruff is a subprocess with a deadline, on a notebook built from the request's cells
in their order, so a name imported in one cell and used in another is neither unused nor
undefined. Magics are masked first (lint/prepare.py). A syntax error anywhere stops all of
ruff's rules, so cells that do not parse get their own diagnostics from a first run and are
left out of a second one; names they mention are then never reported unused or undefined
elsewhere (they may be defined or used there).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .format import PYTHON_CELL_MAGICS
from .prepare import Prepared, PreparedCache, prepare

# pyflakes, Python's own errors and a few pycodestyle checks that are bugs more than style.
DEFAULT_SELECT = ("F", "E9", "E711", "E712", "E721", "E722")
_ERRORS = frozenset({"invalid-syntax", "magic", "F821", "F822", "F823", "F704", "F706"})
# Reports about one name, which an unparsed cell may define or use.
_NAME_CODES = frozenset({"F401", "F811", "F821", "F841"})
_NAME = re.compile(r"`([^`]+)`")
_WORD = re.compile(r"[^\W\d]\w*")

Diagnostic = dict[str, Any]


class CheckError(RuntimeError):
    """The check could not run (no ruff, a timeout, ruff failed): the request's error."""


@dataclass(frozen=True)
class CheckSpec:
    """How to run ruff for one request."""

    ruff: str  # the ruff executable
    config: str = ""  # the project's ruff config file ("": none, the default rules)
    filename: str = "notebook.ipynb"  # what ruff is told the input is (per-file-ignores)
    cwd: str | None = None
    timeout: float = 30.0
    python_cell_magics: frozenset[str] = PYTHON_CELL_MAGICS


def find_ruff(configured: str = "") -> str | None:
    """The ruff executable: the configured one, the `ruff` package's, or one on PATH."""
    if configured:
        return configured if Path(configured).is_file() else shutil.which(configured)
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]

        return str(find_ruff_bin())
    except (ImportError, FileNotFoundError):
        return shutil.which("ruff")


def ruff_arguments(spec: CheckSpec) -> list[str]:
    arguments = ["check", "--output-format", "json", "--no-cache", "--exit-zero", "--no-fix"]
    if spec.config:
        arguments += ["--config", spec.config]
    else:
        arguments += ["--isolated", "--select", ",".join(DEFAULT_SELECT)]
    return [*arguments, "--stdin-filename", spec.filename, "-"]


def run_ruff(spec: CheckSpec, stdin: str) -> list[dict[str, Any]]:
    """ruff's JSON diagnostics for `stdin`; CheckError when ruff cannot give them (a
    timeout stops it)."""
    try:
        process = subprocess.run(
            [spec.ruff, *ruff_arguments(spec)],
            input=stdin.encode(),
            capture_output=True,
            cwd=spec.cwd,
            timeout=spec.timeout,
        )
    except subprocess.TimeoutExpired:
        raise CheckError(f"checking timed out after {spec.timeout:g} s") from None
    except OSError as error:
        raise CheckError(f"cannot run ruff: {error.strerror or error}") from None
    if process.returncode != 0:
        err = process.stderr.decode(errors="replace")
        lines = [line for line in err.splitlines() if line.strip()]
        errors = [line for line in lines if "error" in line.lower()]
        reason = (errors or lines or [""])[0]
        raise CheckError(f"ruff failed: {reason.strip()}" if reason else "ruff failed")
    try:
        found = json.loads(process.stdout)
    except ValueError:
        raise CheckError("ruff gave no JSON") from None
    if not isinstance(found, list) or not all(isinstance(item, dict) for item in found):
        raise CheckError("ruff gave unexpected JSON")
    return found


def notebook_json(texts: Sequence[str]) -> str:
    """The cells as an .ipynb for ruff."""
    cells = ",".join(
        f'{{"cell_type":"code","id":"c{index}","metadata":{{}},"outputs":[],'
        f'"execution_count":null,"source":{json.dumps(text)}}}'
        for index, text in enumerate(texts)
    )
    metadata = '{"language_info":{"name":"python"}}'
    return f'{{"cells":[{cells}],"metadata":{metadata},"nbformat":4,"nbformat_minor":5}}'


def check_notebook(
    sources: Sequence[str], spec: CheckSpec, cache: PreparedCache | None = None
) -> list[list[Diagnostic]]:
    """Diagnostics for each cell of `sources` (in order), positions within the cells;
    `cache` keeps prepared cells between checks (a re-check after an edit prepares one cell)."""
    magics = spec.python_cell_magics
    prepared = _prepare_all(sources, magics, cache, check_parse=False)
    texts = [cell.text for cell in prepared]
    found = run_ruff(spec, notebook_json(texts))
    broken = {_cell_of(d) for d in found if d.get("code") == "invalid-syntax"}
    # Cells masked on trust (no parse of their own) that do not parse: masked again, checked.
    unchecked = [i for i in sorted(broken) if prepared[i].parse_unchecked]
    for index in unchecked:
        prepared[index] = _prepare_one(sources[index], magics, cache, check_parse=True)
    if any(prepared[i].text != texts[i] for i in unchecked):
        texts = [cell.text for cell in prepared]
        found = run_ruff(spec, notebook_json(texts))
        broken = {_cell_of(d) for d in found if d.get("code") == "invalid-syntax"}
    kept: list[dict[str, Any]] = []
    if broken:
        kept = [d for d in found if _cell_of(d) in broken]
        texts = ["" if i in broken else text for i, text in enumerate(texts)]
        found = run_ruff(spec, notebook_json(texts))
        unseen = {word for i in broken for word in _WORD.findall(sources[i])}
        found = [d for d in found if not _mentions(d, unseen)]
    return _answers(sources, prepared, [*kept, *found])


def _prepare_all(
    sources: Sequence[str], magics: frozenset[str], cache: PreparedCache | None, check_parse: bool
) -> list[Prepared]:
    return [_prepare_one(source, magics, cache, check_parse) for source in sources]


def _prepare_one(
    source: str, magics: frozenset[str], cache: PreparedCache | None, check_parse: bool
) -> Prepared:
    if cache is None:
        return prepare(source, magics, check_parse)
    return cache.prepare(source, magics, check_parse)


def _answers(
    sources: Sequence[str], prepared: Sequence[Prepared], found: Sequence[dict[str, Any]]
) -> list[list[Diagnostic]]:
    answers: list[list[Diagnostic]] = [[] for _ in sources]
    for index, cell in enumerate(prepared):
        if cell.error:
            answers[index].append(_whole_cell(sources[index], "magic", cell.error))
    mappers: dict[int, _Mapper] = {}
    for d in found:
        _add(answers, prepared, sources, d, mappers)
    for diagnostics in answers:
        diagnostics.sort(key=lambda d: (d["line"], d["column"], d["code"]))
    return answers


def check_file(text: str, spec: CheckSpec) -> list[Diagnostic]:
    """Diagnostics for a whole .py file (no magics)."""
    cell = Prepared(text, [(n, 1) for n in range(1, len(text.splitlines()) + 2)])
    answers: list[list[Diagnostic]] = [[]]
    mappers: dict[int, _Mapper] = {}
    for d in run_ruff(spec, text):
        _add(answers, [cell], [text], d, mappers)
    return answers[0]


def _cell_of(diagnostic: dict[str, Any]) -> int:
    cell = diagnostic.get("cell")
    return cell - 1 if isinstance(cell, int) else 0


def _mentions(diagnostic: dict[str, Any], words: set[str]) -> bool:
    if diagnostic.get("code") not in _NAME_CODES:
        return False
    match = _NAME.search(str(diagnostic.get("message", "")))
    return match is not None and any(part in words for part in _WORD.findall(match.group(1)))


def _whole_cell(source: str, code: str, message: str) -> Diagnostic:
    lines = source.splitlines() or [""]
    return {
        "line": 1,
        "column": 1,
        "end_line": len(lines),
        "end_column": len(lines[-1]) + 1,
        "code": code,
        "message": message,
        "severity": "error",
    }


class _Mapper:
    """ruff's positions in a prepared cell -> positions in the cell's own text."""

    def __init__(self, cell: Prepared, source: str) -> None:
        self.cell = cell
        self.lines = source.splitlines() or [""]

    def start(self, where: dict[str, Any]) -> tuple[int, int]:
        row, column = int(where["row"]), int(where["column"])
        first, _ = self.cell.to_cell(row)
        if row in self.cell.magic_lines:
            return first, 1
        return self._clamp(first, column)

    def end(self, where: dict[str, Any]) -> tuple[int, int]:
        row, column = int(where["row"]), int(where["column"])
        first, last = self.cell.to_cell(row)
        if row in self.cell.magic_lines and column == 1:  # up to the magic, not into it
            return self._clamp(first, 1)
        if row in self.cell.magic_lines:
            return self._clamp(last, len(self.lines[min(last, len(self.lines)) - 1]) + 1)
        return self._clamp(last, column)

    def _clamp(self, line: int, column: int) -> tuple[int, int]:
        if line > len(self.lines):  # after the last newline (the cell has none): its end
            return len(self.lines), len(self.lines[-1]) + 1
        return line, column

    def touches_magic(self, edit: dict[str, Any]) -> bool:
        """Whether an edit changes a magic line (ruff sees a stand-in there). Ending at the
        start of one, or inserting there, leaves it alone."""
        start, end = edit["location"], edit["end_location"]
        at_start = int(start["column"]) == 1 and start == end
        return (int(start["row"]) in self.cell.magic_lines and not at_start) or (
            int(end["row"]) in self.cell.magic_lines and int(end["column"]) != 1
        )


def _add(
    answers: list[list[Diagnostic]],
    prepared: Sequence[Prepared],
    sources: Sequence[str],
    found: dict[str, Any],
    mappers: dict[int, _Mapper],
) -> None:
    index = _cell_of(found)
    if not 0 <= index < len(answers):
        return
    mapper = mappers.get(index)
    if mapper is None:  # one per cell: it splits the cell's lines
        mapper = mappers[index] = _Mapper(prepared[index], sources[index])
    line, column = mapper.start(found["location"])
    end_line, end_column = mapper.end(found["end_location"])
    code = str(found.get("code") or "invalid-syntax")
    diagnostic: Diagnostic = {
        "line": line,
        "column": column,
        "end_line": end_line,
        "end_column": end_column,
        "code": code,
        "message": str(found.get("message", "")),
        "severity": "error" if code in _ERRORS or code.startswith("E9") else "warning",
    }
    fix = found.get("fix")
    if isinstance(fix, dict) and fix.get("applicability") == "safe":
        edits = fix.get("edits") or []
        if edits and not any(mapper.touches_magic(edit) for edit in edits):
            diagnostic["fix"] = {
                "message": str(fix.get("message") or ""),
                "edits": [_edit(mapper, edit) for edit in edits],
            }
    answers[index].append(diagnostic)


def _edit(mapper: _Mapper, edit: dict[str, Any]) -> dict[str, Any]:
    line, column = mapper.start(edit["location"])
    end_line, end_column = mapper.end(edit["end_location"])
    return {
        "content": str(edit.get("content", "")),
        "location": {"line": line, "column": column},
        "end_location": {"line": end_line, "column": end_column},
    }


def apply_fixes(source: str, diagnostics: Sequence[Diagnostic]) -> str:
    """`source` with the fixes of `diagnostics` applied (an edit overlapping one already
    taken is left out, with the rest of its fix)."""
    starts = [0]
    for line in source.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))

    def offset(where: dict[str, Any]) -> int:
        line = min(int(where["line"]), len(starts) - 1)
        return min(starts[line - 1] + int(where["column"]) - 1, len(source))

    taken: list[tuple[int, int, str]] = []
    for diagnostic in diagnostics:
        fix = diagnostic.get("fix")
        if not fix:
            continue
        spans = [
            (offset(e["location"]), offset(e["end_location"]), e["content"]) for e in fix["edits"]
        ]
        if any((a < y and x < b) or a == x for a, b, _ in spans for x, y, _ in taken):
            continue
        taken.extend(spans)
    for begin, end, content in sorted(taken, reverse=True):
        source = source[:begin] + content + source[end:]
    return source
