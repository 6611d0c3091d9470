"""Diagnostics and fixes for `jupyter sidecar lint --check / --fix`: ruff's checker as the
server's `check` runs it (lint/check.py: a notebook checked as one program, magics masked,
the project's ruff config), on files.

A notebook's diagnostics name the cell by its index in the notebook (`cells[i]`, markdown
cells counted, as in `--json`'s `cells[].index`); lines and columns are within the cell,
1-based. A .py file's are plain `path:line:col`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..lint.check import CheckError, Diagnostic, apply_fixes, check_file, check_notebook
from ..lint.config import ConfigFinder
from ..lint.ruffconfig import check_spec

# ruff's own `--fix` loops until nothing changes, at most this many times.
MAX_FIX_PASSES = 10


@dataclass
class Checked:
    """The diagnostics of one file: each with `cell` (notebook index) and `cell_id` in
    notebooks, as the server's plus these."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    fixed: int = 0  # fixes applied (with --fix)
    error: str = ""
    skipped: str = ""


@dataclass
class Source:
    """A file's checkable text: the code cells of a notebook (index, id, source), or the
    whole .py file as one."""

    path: Path
    notebook: Any = None  # the nbformat notebook
    cells: list[tuple[int, str | None, str]] = field(default_factory=list)
    newline: str = "\n"
    skipped: str = ""


def read_source(path: Path) -> Source:
    """OSError, UnicodeDecodeError or ValueError (not a notebook) when it cannot be read."""
    if path.suffix != ".ipynb":
        with open(path, encoding="utf-8", newline="") as handle:
            text = handle.read()
        newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
        return Source(path, None, [(0, None, text.replace("\r\n", "\n"))], newline)
    import nbformat

    try:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as error:  # nbformat raises JSON, validation and OS errors
        message = str(error).strip().splitlines()
        raise ValueError(f"not a readable notebook: {message[0] if message else error}") from None
    if notebook.get("nbformat") != 4:
        raise ValueError("not an nbformat 4 notebook")
    metadata = notebook.get("metadata", {})
    language = (metadata.get("language_info") or {}).get("name") or (
        metadata.get("kernelspec") or {}
    ).get("language")
    if language and str(language).lower() != "python":
        return Source(path, notebook, skipped=f"a {language} notebook")
    cells = [
        (index, cell.get("id"), cell.source)
        for index, cell in enumerate(notebook.cells)
        if cell.get("cell_type") == "code"
    ]
    return Source(path, notebook, cells)


def write_source(source: Source, texts: list[str]) -> None:
    """Write `texts` (one per checkable cell, or the file's text) back."""
    if source.notebook is None:
        with open(source.path, "w", encoding="utf-8", newline=source.newline) as handle:
            handle.write(texts[0])
        return
    import nbformat

    for (index, _, _), text in zip(source.cells, texts, strict=True):
        source.notebook.cells[index].source = text
    nbformat.write(source.notebook, source.path)


def diagnose(source: Source, texts: list[str], finder: ConfigFinder, ruff: str) -> list[list[Any]]:
    """Diagnostics per text (CheckError, ConfigError when they cannot be had)."""
    spec = check_spec(finder, str(source.path.resolve()), ruff)
    if source.notebook is None:
        return [check_file(texts[0], spec)]
    return check_notebook(texts, spec)


def check_path(path: Path, finder: ConfigFinder, ruff: str, fix: bool) -> Checked:
    """Diagnostics of the file at `path`; with `fix`, ruff's safe fixes applied first (and
    written back), then what is left."""
    result = Checked()
    try:
        source = read_source(path)
        if source.skipped:
            result.skipped = source.skipped
            return result
        texts = [text for _, _, text in source.cells]
        found = diagnose(source, texts, finder, ruff)
        if fix:
            original = list(texts)
            for _ in range(MAX_FIX_PASSES):
                fixed = [apply_fixes(text, d) for text, d in zip(texts, found, strict=True)]
                if fixed == texts:
                    break
                result.fixed += sum(1 for d in found for x in d if x.get("fix"))
                texts, found = fixed, diagnose(source, fixed, finder, ruff)
            if texts != original:
                write_source(source, texts)
    except (OSError, UnicodeDecodeError) as error:
        result.error = f"cannot read: {error}"
        return result
    except (ValueError, CheckError) as error:  # ConfigError is a ValueError
        result.error = str(error)
        return result
    for (index, cell_id, _), diagnostics in zip(source.cells, found, strict=True):
        for diagnostic in diagnostics:
            where = {} if source.notebook is None else {"cell": index, "cell_id": cell_id}
            result.diagnostics.append({**where, **diagnostic})
    return result


def format_diagnostic(path: Path | str, diagnostic: Diagnostic) -> str:
    """`path:cell:line:col: CODE message` (a notebook) or `path:line:col: CODE message`."""
    cell = f"{diagnostic['cell']}:" if "cell" in diagnostic else ""
    where = f"{path}:{cell}{diagnostic['line']}:{diagnostic['column']}"
    mark = " [*]" if diagnostic.get("fix") else ""
    return f"{where}: {diagnostic['code']}{mark} {diagnostic['message']}"
