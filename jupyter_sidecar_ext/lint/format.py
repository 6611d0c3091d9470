"""Formatting of one cell or one Python file with isort and black: the CPU-bound part.

This module runs in the lint worker processes (and in the CLI). Everything it receives is
plain, picklable data (`FormatSpec`); the black `Mode` and isort `Config` are built from it
once per process and cached, because building an isort config per cell costs more than sorting.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tokenize
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

from .magics import (
    Masked,
    MaskError,
    as_plain_names,
    for_black,
    mask_magics,
    restore_names,
    split_cell_magic,
    unmask_magics,
)

TOOLS = ("isort", "black")
RUFF = ("ruff",)  # ruff's import sorting then ruff format (lint/rufffmt.py)
KNOWN_TOOLS = ("isort", "black", "ruff")
# black's own list (black.handle_ipynb_magics.PYTHON_CELL_MAGICS): cell magics whose body is
# Python. Any other cell magic (%%bash, %%html, %%sql, %%writefile, unknown ones) is left as is.
PYTHON_CELL_MAGICS = frozenset({"capture", "prun", "pypy", "python", "python3", "time", "timeit"})

Items = tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class FormatSpec:
    """Everything that decides a formatting result, besides the source itself."""

    tools: tuple[str, ...] = TOOLS
    black: Items = ()  # normalized black options (see config.BLACK_OPTIONS)
    isort: Items = ()  # isort settings given directly, over the settings file
    isort_file: str = ""  # the isort settings file in use, if any
    isort_stamp: int = 0  # its mtime_ns: part of the cache key
    directory: str = ""  # where isort looks for first-party packages when there is no file
    verify: bool = True  # check black's output is AST-equivalent to its input
    python_file: bool = False  # sources are whole .py files (no IPython syntax)
    ruff: str = ""  # the ruff executable, for tools ("ruff",)
    ruff_config: str = ""  # the project's ruff config file ("": ruff's defaults)
    ruff_stamp: int = 0  # its mtime_ns: part of the cache key
    ruff_cwd: str = ""  # where ruff runs (finds first-party packages) without a config file

    def cache_key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


class CellError(Exception):
    """A tool failed on a cell; the message already says which and why, in the cell's terms."""


class Outcome(NamedTuple):
    """The result for one cell: new source (the old one on error), changed, error message."""

    source: str
    changed: bool
    error: str | None = None


def unchanged(source: str, error: str | None = None) -> Outcome:
    return Outcome(source, False, error)


@functools.lru_cache(maxsize=64)
def black_mode(options: Items) -> Any:
    """A black Mode from normalized options; raises ValueError/KeyError on bad values."""
    from black.const import DEFAULT_LINE_LENGTH
    from black.mode import Mode, Preview, TargetVersion

    given = dict(options)
    return Mode(
        target_versions={TargetVersion[v.upper()] for v in given.get("target_versions", ())},
        line_length=int(given.get("line_length", DEFAULT_LINE_LENGTH)),
        string_normalization=not given.get("skip_string_normalization", False),
        magic_trailing_comma=not given.get("skip_magic_trailing_comma", False),
        preview=bool(given.get("preview", False)),
        unstable=bool(given.get("unstable", False)),
        enabled_features={Preview[f] for f in given.get("enable_unstable_feature", ())},
        python_cell_magics=set(given.get("python_cell_magics", ())),
    )


@functools.lru_cache(maxsize=64)
def isort_config(
    settings_file: str, stamp: int, directory: str, options: Items, for_cells: bool
) -> Any:
    """An isort Config; `stamp` only keys the cache so an edited file is read again."""
    import isort

    overrides: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in options}
    if for_cells:
        overrides["add_imports"] = []  # would be added to every cell with an import
    if settings_file:
        return isort.Config(settings_file=settings_file, quiet=True, **overrides)
    return isort.Config(directory=directory or ".", quiet=True, **overrides)


def format_cells(sources: list[str], spec: FormatSpec) -> list[Outcome]:
    """Format many cells with isort and black; each cell's failure stays its own."""
    format_one = format_python if spec.python_file else format_cell
    return [format_one(source, spec) for source in sources]


def format_cell(source: str, spec: FormatSpec) -> Outcome:
    """Format one notebook cell; never raises (an error leaves the source untouched)."""
    try:
        formatted = _format_cell(source, spec)
    except CellError as error:
        return unchanged(source, str(error))
    except Exception as error:  # one bad cell must not fail the others: report it
        return unchanged(source, describe(error))
    return Outcome(formatted, formatted != source)


def format_python(text: str, spec: FormatSpec) -> Outcome:
    """Format a whole .py file (no magics, trailing newline kept as black does)."""
    try:
        formatted = text
        for tool in spec.tools:
            if tool == "isort" and "import" in formatted:
                formatted = _isort(formatted, isort_config(*_isort_key(spec), False))
            elif tool == "black" and formatted.strip():
                formatted = _black(formatted, spec)
    except Exception as error:
        return unchanged(text, describe(error))
    return Outcome(formatted, formatted != text)


def warm() -> None:
    """Import and exercise both tools so a worker's first real task is not slow."""
    format_cell("import sys, os\n%matplotlib inline\nx = {'a':1}", FormatSpec())


def init_worker(nice: int) -> None:
    """A pool worker starts: yield the CPU to the server if asked, then warm up."""
    if nice > 0:
        with contextlib.suppress(OSError):
            os.nice(nice)
    with contextlib.suppress(Exception):
        warm()


def describe(error: BaseException) -> str:
    """One line for the user: which tool complained and what it said."""
    from black.parsing import InvalidInput

    if isinstance(error, InvalidInput):
        # "cannot parse: 1:7\n    x = (1,\n          ^\nTokenError: ..." on one line
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        where = f"{lines[0]}: {lines[1]}" if len(lines) > 1 else (lines[0] if lines else "")
        reason = f" ({lines[-1]})" if len(lines) > 3 else ""
        return f"black: {where}{reason}"
    if isinstance(error, tokenize.TokenError):
        return f"Cannot parse: {error.args[0] if error.args else error}"
    if isinstance(error, MaskError):
        return f"IPython magic: {error}"
    text = str(error).strip().splitlines()
    message = text[0] if text else ""
    tool = type(error).__module__.partition(".")[0]
    if tool == "black":  # the AST check: "cannot use --safe with this file; failed to parse..."
        if "failed to parse source file AST: " in message:
            return f"black: cannot parse: {message.partition('AST: ')[2]}"
        return f"black: {message.partition('  Please report')[0]}"
    if tool == "isort":
        return f"isort: {message or type(error).__name__}"
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _isort_key(spec: FormatSpec) -> tuple[str, int, str, Items]:
    return spec.isort_file, spec.isort_stamp, spec.directory, spec.isort


def _format_cell(source: str, spec: FormatSpec) -> str:
    if not source.strip():
        return source
    magic = split_cell_magic(source)
    if magic is not None:
        python_magics = PYTHON_CELL_MAGICS | set(dict(spec.black).get("python_cell_magics", ()))
        if magic.name not in python_magics or not magic.body.strip():
            return source  # %%bash, %%html, %%sql, %%writefile...: not Python, untouched
        body = _format_cell(magic.body, spec)
        if "black" in spec.tools:  # black drops blank lines before, and spaces after, `%%x`
            return f"{magic.header.rstrip()}\n{body}"
        return f"{magic.prefix}{magic.header}\n{body}"
    masked = mask_magics(source)
    text = masked.source
    try:
        for tool in spec.tools:
            if tool == "isort":
                if "import" in text:
                    text = _isort_cell(text, masked, spec)
            elif tool == "black":
                text = as_plain_names(_black(for_black(text, masked), spec), masked)
    except Exception as error:  # never show a placeholder: the magic it stands for instead
        raise CellError(restore_names(describe(error), masked)) from None
    text = unmask_magics(text, masked)
    if "black" in spec.tools:
        return text.rstrip("\n")  # black's cell convention (black.format_cell)
    return text.rstrip("\n") + source[len(source.rstrip("\n")) :]


def _isort_cell(text: str, masked: Masked, spec: FormatSpec) -> str:
    """isort each run of lines between top-level magics: magics keep their place, and no
    import block is split (or joined) across one."""
    config = isort_config(*_isort_key(spec), True)
    parts: list[str] = []
    segment: list[str] = []
    for line in text.splitlines(keepends=True):
        if masked.is_top_level(line):
            parts.append(_isort("".join(segment), config))
            parts.append(line)
            segment = []
        else:
            segment.append(line)
    parts.append(_isort("".join(segment), config))
    return "".join(parts)


def _isort(text: str, config: Any) -> str:
    if "import" not in text:
        return text
    import isort
    from isort.exceptions import FileSkipped

    try:
        sorted_text: str = isort.code(text, config=config)
    except FileSkipped:  # `# isort: skip_file`
        return text
    if not text.endswith("\n"):
        sorted_text = sorted_text.rstrip("\n")
    return sorted_text


def _black(text: str, spec: FormatSpec) -> str:
    import black
    from black.handle_ipynb_magics import put_trailing_semicolon_back, remove_trailing_semicolon

    body, semicolon = text, False
    # A trailing `;` hides a cell's result in Jupyter: keep it (as black.format_cell does).
    # Tokenizing costs a tenth of the formatting: only when there can be one. On a parse
    # error, black reports it below.
    if ";" in text:
        with contextlib.suppress(tokenize.TokenError, SyntaxError, IndentationError):
            body, semicolon = remove_trailing_semicolon(text)
    mode = black_mode(spec.black)
    formatted: str = black.format_str(body, mode=mode)
    if spec.verify and formatted != body:
        black.assert_equivalent(body, formatted)
    return str(put_trailing_semicolon_back(formatted, semicolon))
