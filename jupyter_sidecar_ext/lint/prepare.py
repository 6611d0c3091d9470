"""Notebook cells as plain Python for ruff's checker, with a map back to the cells' own lines.

ruff parses IPython escapes itself, but opaquely: a cell with a `%%` line anywhere is skipped
whole, a continued magic or an automagic command is a syntax error, and one syntax error stops
every rule in the notebook. So cells reach ruff with their magics masked as in formatting
(lint/magics.py, IPython's own detection): each magic becomes one neutral statement (`pass`, or
`target = ...` for `x = !cmd`, so `x` stays defined) and non-Python cell magics are skipped.
Positions are mapped back line by line; a magic line keeps its whole original range.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

from .format import PYTHON_CELL_MAGICS
from .magics import MaskError, mask_magics, split_cell_magic

# `target = %magic` / `target = !cmd`: the target part (IPython's MagicAssign/SystemAssign).
_ASSIGN = re.compile(r"^([^=%!]+?)[ \t]*=[ \t]*(?:\\\n[ \t]*)*[%!]")


@dataclass
class Prepared:
    """One cell as ruff sees it: `text`, and for each of its lines the cell line (1-based)
    it came from and how many cell lines it stands for (>1: a continued magic)."""

    text: str
    lines: list[tuple[int, int]] = field(default_factory=list)
    magic_lines: set[int] = field(default_factory=set)  # 1-based lines of `text` that are magics
    skipped: str = ""  # why the cell is not checked at all (a %%bash cell...)
    error: str = ""  # a magic that could not be masked
    # Masked without a parse of its own (lint/magics.py `check_parse`): if ruff finds a
    # syntax error here, prepare the cell again with `check_parse=True`.
    parse_unchecked: bool = False

    def to_cell(self, line: int) -> tuple[int, int]:
        """Cell lines (first, last) that ruff's `line` stands for."""
        if 1 <= line <= len(self.lines):
            first, count = self.lines[line - 1]
            return first, first + count - 1
        last = self.lines[-1][0] + self.lines[-1][1] - 1 if self.lines else 1
        return last + 1, last + 1  # past the end: ruff's line after the last newline


def prepare(
    source: str,
    python_cell_magics: frozenset[str] = PYTHON_CELL_MAGICS,
    check_parse: bool = True,
) -> Prepared:
    """A cell ready for ruff (see the module docstring); `check_parse` as in `mask_magics`."""
    magic = split_cell_magic(source)
    if magic is not None:
        if magic.name not in python_cell_magics:
            return Prepared("", skipped=f"%%{magic.name} cell")
        offset = magic.prefix.count("\n") + 1  # blank lines, then the %% header
        body = prepare(magic.body, python_cell_magics, check_parse)
        header = [(n, 1) for n in range(1, offset + 1)]
        return Prepared(
            "\n" * offset + body.text,
            header + [(first + offset, count) for first, count in body.lines],
            {line + offset for line in body.magic_lines} | {offset},
            body.skipped,
            body.error,
            body.parse_unchecked,
        )
    try:
        masked = mask_magics(source, check_parse)
    except MaskError as error:
        return Prepared("", error=f"IPython magic: {error}")
    if not masked.magics:
        count = len(source.splitlines()) or 1
        return Prepared(source, [(n, 1) for n in range(1, count + 1)])
    text_lines: list[str] = []
    lines: list[tuple[int, int]] = []
    magic_lines: set[int] = set()
    cell_line = 1
    for line in masked.source.splitlines(keepends=True):
        name = line.strip()
        if name in masked.magics:
            original = masked.magics[name]
            indent = line[: len(line) - len(line.lstrip(" \t"))]
            assign = _ASSIGN.match(original)
            statement = f"{assign.group(1).strip()} = ..." if assign else "pass"
            newline = "\n" if line.endswith("\n") else ""
            text_lines.append(f"{indent}{statement}{newline}")
            span = original.count("\n") + 1
            magic_lines.add(len(text_lines))
        else:
            text_lines.append(line)
            span = 1
        lines.append((cell_line, span))
        cell_line += span
    return Prepared("".join(text_lines), lines, magic_lines, parse_unchecked=masked.parse_unchecked)


class PreparedCache:
    """Prepared cells by (source, Python cell magics), least recently used out first; one per
    check worker process (lint/checkjob.py), safe to share between threads too."""

    def __init__(self, max_entries: int = 20_000) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[tuple[str, frozenset[str]], Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def prepare(
        self, source: str, python_cell_magics: frozenset[str], check_parse: bool = True
    ) -> Prepared:
        """`prepare`, cached; an unchecked entry does not answer a `check_parse` call (the
        checked result replaces it)."""
        key = (source, python_cell_magics)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None and not (check_parse and hit.parse_unchecked):
                self._items.move_to_end(key)
                return hit
        prepared = prepare(source, python_cell_magics, check_parse)
        if self.max_entries > 0:
            with self._lock:
                self._items[key] = prepared
                while len(self._items) > self.max_entries:
                    self._items.popitem(last=False)
        return prepared
