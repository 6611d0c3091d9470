"""IPython syntax in notebook cells, masked so black and isort (Python-only tools) can run.

Why our own masking rather than black's: black's cell masking turns `obj?` into `?obj`,
silently skips whole cells it cannot mask (multi-line magics, `x = !cmd` in some forms, syntax
errors), and isort has no magic handling at all. Detection here is IPython's own (its token
transformers), so exactly what the kernel would run as a magic is masked. Each magic line
becomes one unique placeholder statement that keeps its indentation and position, and comes back
verbatim after formatting.
"""

from __future__ import annotations

import ast
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

# A cell can hold IPython syntax only if one of these matches (a cheap first test): an escape
# starting a line (`%magic`, `!cmd`, `?obj`, `/f x`...), an assignment from one (`x = !cmd`,
# `x = %magic`), or a line ending in `?` (`obj?`).
_MAYBE_MAGIC = re.compile(r"^[ \t]*[%!?,;/]|=(?:[ \t]|\\\n)*[%!]|\?[ \t]*$", re.MULTILINE)
# IPython's HelpEnd pattern (inputtransformer2._help_end_re): `obj?`, `obj.attr??`, `%magic?`.
_HELP_END = re.compile(r"(%{0,2}(?!\d)[\w*]+(\.(?!\d)[\w*]+|\[-?[0-9]+\])*)(\?\??)$")
_CELL_MAGIC_HELP = re.compile(r"%%\w+\?")
# Commands IPython runs as magics without the `%` (automagic, on by default), as IPython's
# prefilter sees them: at the start of a line, not followed by what makes the line Python
# (`pip = 1`, `ls(x)`, `cd, x = ...`). Only these well-known ones, and only on lines that
# are not Python anyway: a variable may shadow the name, which we cannot know.
_AUTOMAGIC_COMMAND = (
    r"(?:pip|conda|mamba|micromamba|cd|ls|pwd|cat|cp|mv|rm|mkdir|rmdir|env|load_ext|"
    r"reload_ext|unload_ext|matplotlib|autoreload|run|time|timeit|who|whos|history|reset|pdb)"
    r"[ \t]+[^ \t=!()<>,+*/%^&|]"
)
_AUTOMAGIC = re.compile("^" + _AUTOMAGIC_COMMAND, re.MULTILINE)
# The same first test, faster: the patterns above that start at a line's start, split into
# the first line (`match`) and the others (after a newline, a literal the regex engine scans
# for quickly), the rest one by one (tests/lint/test_masking_paths.py holds them equal).
_ESCAPE_FIRST = re.compile(r"[ \t]*[%!?,;/]")
_ESCAPE_AFTER_NEWLINE = re.compile(r"\n[ \t]*[%!?,;/]")
_ASSIGN_ESCAPE = re.compile(r"=(?:[ \t]|\\\n)*[%!]")
_HELP_AT_END = re.compile(r"\?[ \t]*$", re.MULTILINE)
_AUTOMAGIC_AFTER_NEWLINE = re.compile("\n" + _AUTOMAGIC_COMMAND)
# A line IPython runs as a line magic or shell command (EscapedCommand), when it starts a
# logical line: what `_mask_simple` handles without IPython's tokenizer.
_SIMPLE_ESCAPE = re.compile(r"([ \t]*)[%!]")
_SIMPLE_ESCAPE_ANYWHERE = re.compile(r"^[ \t]*[%!]", re.MULTILINE)
# What can carry a logical line on past a newline (brackets, strings, a backslash).
_CARRIES_ON = re.compile(r"[()\[\]{}'\"\\]")
# IPython itself gives up after this many transformations of one cell.
MAX_MAGICS = 500
_AST_FLAGS = ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT


class MaskError(Exception):
    """A magic could not be masked or put back; the cell is left as it was."""


@dataclass(frozen=True)
class CellMagic:
    """A `%%magic` cell split into its header line and body (leading blank lines kept)."""

    prefix: str
    header: str
    name: str
    body: str


def split_cell_magic(source: str) -> CellMagic | None:
    """The cell magic of a cell, as IPython finds it: the first non-blank line starts with %%."""
    if "%%" not in source:  # no line can start with it (the usual case, found cheaply)
        return None
    lines = source.splitlines(keepends=True)
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines) or not lines[start].startswith("%%"):
        return None
    if _CELL_MAGIC_HELP.match(lines[start]):  # `%%time?` is help, not a cell magic
        return None
    header = lines[start].rstrip("\r\n")
    name = header[2:].rstrip().partition(" ")[0]
    return CellMagic("".join(lines[:start]), header, name, "".join(lines[start + 1 :]))


@dataclass
class Masked:
    """A cell with each magic replaced by a placeholder line, and how to put them back."""

    source: str
    nonce: str = ""
    magics: dict[str, str] = field(default_factory=dict)
    # Masked without asking the parser whether it parses (`check_parse=False`): whoever
    # parses it next must take a syntax error as "mask again with `check_parse=True`".
    parse_unchecked: bool = False

    @property
    def line_pattern(self) -> re.Pattern[str]:
        """A placeholder on its own line, as the name or, for black, as `import name`."""
        return re.compile(
            rf"^([ \t]*)(?:import )?(__sidecar_magic_\d+_{self.nonce}__)[ \t]*$", re.MULTILINE
        )

    def is_top_level(self, line: str) -> bool:
        """Whether `line` is a placeholder at column 0 (isort sorts around these)."""
        return (
            bool(self.magics)
            and line.startswith("__sidecar_magic_")
            and line.rstrip() in self.magics
        )


def _parses(source: str) -> bool:
    try:
        compile(source, "<cell>", "exec", _AST_FLAGS)
    except (SyntaxError, ValueError):
        return False
    return True


def _new_nonce(source: str) -> str:
    while True:
        nonce = secrets.token_hex(4)
        if nonce not in source:
            return nonce


def _next_magic(lines: list[str]) -> tuple[int, int] | None:
    """First (start, end) physical line range IPython would transform, or None."""
    from IPython.core import inputtransformer2 as it2

    tokens_by_line = it2.make_tokens_by_line(lines)
    candidates: list[Any] = []
    for transformer in (it2.MagicAssign, it2.SystemAssign, it2.EscapedCommand, it2.HelpEnd):
        found = transformer.find(tokens_by_line)
        if found is not None:
            candidates.append(found)
    for found in sorted(candidates, key=it2.TokenTransformBase.sortby):
        if isinstance(found, it2.HelpEnd):
            piece = "".join(lines[found.start_line : found.q_line + 1])
            if not _HELP_END.search(piece[found.start_col :].rstrip("\r\n")):
                continue  # IPython does not transform it either: a plain syntax error
            return found.start_line, found.q_line
        return found.start_line, it2.find_end_of_continued_line(lines, found.start_line)
    return None


def mask_magics(source: str, check_parse: bool = True) -> Masked:
    """Replace every IPython line magic, shell escape and help request by a placeholder.

    `check_parse=False` is for a caller that parses the result anyway (ruff, in the lint
    check): when every magic is a plain line that nothing before it can carry on into, the
    quick path skips its own parse (the costly part of masking) and says so in the result."""
    if not _may_hold_ipython(source):
        return Masked(source)
    # First the quick path: when it succeeds the cell is not Python as it is (a `%` or `!`
    # statement never is), so asking the parser that first (a failed parse costs two) is moot.
    quick = _mask_simple(source, check_parse)
    if quick is not None:
        return quick
    if _parses(source):
        return Masked(source)
    return _mask_with_ipython(source)


def _may_hold_ipython(source: str) -> bool:
    """`_MAYBE_MAGIC.search(source) or _AUTOMAGIC.search(source)`, in a third of the time."""
    return bool(
        _ESCAPE_FIRST.match(source)
        or _ESCAPE_AFTER_NEWLINE.search(source)
        or _ASSIGN_ESCAPE.search(source)
        or _HELP_AT_END.search(source)
        or _AUTOMAGIC.match(source)
        or _AUTOMAGIC_AFTER_NEWLINE.search(source)
    )


def _mask_simple(source: str, check_parse: bool = True) -> Masked | None:
    """The common case without IPython's tokenizer (which costs milliseconds per magic, as
    it tokenizes the whole cell again after each one): every IPython line of the cell is a
    one-line `%magic` or `!cmd`. The lines starting so are masked; the result counts only if
    it parses and each placeholder is a statement of its own at its line and indentation,
    which is exactly when IPython would have found those lines as escapes (not inside a string,
    brackets or a continued line). Anything else (None) takes IPython's path. When no line
    before the last escape has a bracket, a quote or a backslash, every escape starts a
    logical line and so is a statement if the result parses: without `check_parse` that is
    left to the caller's parser."""
    if not _SIMPLE_ESCAPE_ANYWHERE.search(source):
        return None
    lines = source.splitlines(keepends=True)
    had_newline = lines[-1].endswith(("\n", "\r"))
    if not had_newline:
        lines[-1] += "\n"
    nonce = _new_nonce(source)
    magics: dict[str, str] = {}
    where: dict[str, tuple[int, int]] = {}
    carried = False  # a line so far may carry a logical line on (see the docstring)
    carried_into_escape = False
    for index, line in enumerate(lines):
        match = _SIMPLE_ESCAPE.match(line)
        if match is None:
            carried = carried or bool(_CARRIES_ON.search(line.partition("#")[0]))
            continue
        body = line.rstrip()
        continues = index > 0 and lines[index - 1].rstrip("\r\n").endswith("\\")
        if body.endswith("\\") or continues or len(magics) >= MAX_MAGICS:
            return None  # a continued line: the AST cannot tell where its statement starts
        carried_into_escape = carried
        indent = match.group(1)
        name = f"__sidecar_magic_{len(magics)}_{nonce}__"
        magics[name] = body[len(indent) :]
        where[name] = (index + 1, len(indent))
        lines[index] = f"{indent}{name}\n"
    if not magics:
        return None
    masked = "".join(lines)
    if not had_newline:
        masked = masked[:-1]
    if not check_parse and not carried_into_escape:
        return Masked(masked, nonce, magics, parse_unchecked=True)
    try:
        tree = compile(masked, "<cell>", "exec", _AST_FLAGS)
    except (SyntaxError, ValueError):
        return None
    found = 0
    for statement in _statements(tree.body):
        placeholder = _placeholder_name(statement, magics)
        if placeholder is not None and where[placeholder] == (
            statement.lineno,
            statement.col_offset,
        ):
            found += 1
    return Masked(masked, nonce, magics) if found == len(magics) else None


def _statements(body: list[Any]) -> Iterator[Any]:
    """Every statement of a tree, nested blocks included (expressions are not walked: a
    placeholder can only count as a statement)."""
    for statement in body:
        yield statement
        for field_name in ("body", "orelse", "finalbody", "handlers", "cases"):
            nested = getattr(statement, field_name, None)
            if isinstance(nested, list):
                yield from _statements(nested)


def _mask_with_ipython(source: str) -> Masked:
    lines = source.splitlines(keepends=True)
    had_newline = lines[-1].endswith(("\n", "\r"))
    if not had_newline:
        lines[-1] += "\n"  # IPython's tokenizer expects every line to end with one
    nonce = _new_nonce(source)
    magics: dict[str, str] = {}
    for count in range(MAX_MAGICS + 1):
        found = _next_magic(lines)
        if found is None:
            break
        if count == MAX_MAGICS:
            raise MaskError(f"more than {MAX_MAGICS} IPython magics in one cell")
        start, end = found
        first = lines[start]
        indent = first[: len(first) - len(first.lstrip(" \t"))]
        name = f"__sidecar_magic_{count}_{nonce}__"
        # Trailing whitespace goes, as black removes it from magic lines.
        magics[name] = "".join(lines[start : end + 1])[len(indent) :].rstrip()
        lines[start : end + 1] = [f"{indent}{name}\n"]
    _mask_automagics(lines, magics, nonce)
    masked = "".join(lines)
    if not had_newline:
        masked = masked[:-1]
    return Masked(masked, nonce, magics)


def _mask_automagics(lines: list[str], magics: dict[str, str], nonce: str) -> None:
    """Mask top-level automagic commands (`pip install black`) when the cell is not Python
    without doing so; each such line must not be Python by itself either."""
    if _parses("".join(lines)):
        return
    for index, line in enumerate(lines):
        if _AUTOMAGIC.match(line) and not _parses(line):
            if len(magics) >= MAX_MAGICS:
                raise MaskError(f"more than {MAX_MAGICS} IPython magics in one cell")
            name = f"__sidecar_magic_{len(magics)}_{nonce}__"
            magics[name] = line.rstrip()
            lines[index] = f"{name}\n"


def restore_names(text: str, masked: Masked) -> str:
    """`text` (an error message) with each placeholder shown as the magic it stands for."""
    if not masked.magics:
        return text
    pattern = rf"(?:import )?(__sidecar_magic_\d+_{masked.nonce}__)"
    return re.sub(pattern, lambda m: masked.magics.get(m.group(1), m.group(0)), text)


def unmask_magics(formatted: str, masked: Masked) -> str:
    """Put the magics back, verbatim, at the (possibly re-indented) placeholder lines."""
    if not masked.magics:
        return formatted
    seen: set[str] = set()

    def restore(match: re.Match[str]) -> str:
        name = match.group(2)
        if name in seen or name not in masked.magics:
            raise MaskError("formatting duplicated an IPython magic")
        seen.add(name)
        return match.group(1) + masked.magics[name]

    restored = masked.line_pattern.sub(restore, formatted)
    if seen != set(masked.magics) or f"_{masked.nonce}__" in restored:
        raise MaskError("formatting moved an IPython magic off its own line")
    return restored


def as_plain_names(text: str, masked: Masked) -> str:
    """Undo `for_black`: placeholders back to bare names (what isort must see)."""
    if not masked.magics:
        return text
    return masked.line_pattern.sub(r"\1\2", text)


def for_black(text: str, masked: Masked) -> str:
    """Mask magics that follow an import (at the same level) as imports themselves.

    Black opens a blank line between an import and the next non-import statement; a
    `%load_ext` or `%matplotlib` in an import block would otherwise split the block.
    """
    if not masked.magics:
        return text
    try:
        tree = compile(text, "<cell>", "exec", _AST_FLAGS)
    except (SyntaxError, ValueError):
        return text  # black will report the syntax error itself
    as_import: set[str] = set()
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            statements = getattr(node, name, None)
            if isinstance(statements, list):
                _mark_after_imports(statements, masked.magics, as_import)
    if not as_import:
        return text

    def rewrite(match: re.Match[str]) -> str:
        name = match.group(2)
        return f"{match.group(1)}import {name}" if name in as_import else match.group(0)

    return masked.line_pattern.sub(rewrite, text)


def _mark_after_imports(statements: list[Any], magics: dict[str, str], marked: set[str]) -> None:
    previous_is_import = False
    for statement in statements:
        name = _placeholder_name(statement, magics)
        if name is not None:
            if previous_is_import:
                marked.add(name)
            continue  # a run of magics after an import stays in the import block
        previous_is_import = isinstance(statement, (ast.Import, ast.ImportFrom))


def _placeholder_name(statement: Any, magics: dict[str, str]) -> str | None:
    if (
        isinstance(statement, ast.Expr)
        and isinstance(statement.value, ast.Name)
        and statement.value.id in magics
    ):
        return statement.value.id
    return None
