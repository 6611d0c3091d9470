"""`jupyter sidecar lint PATH...`: isort + black for .ipynb and .py files, as the server does.

Notebooks get the same cell formatting as the lint endpoint (magics kept, one bad cell reported
and left alone); .py files are formatted whole. Settings come from the nearest pyproject.toml /
setup.cfg / .isort.cfg at or above each file. Exit status: 0 fine, 1 with --check when a file
would change, 2 when something could not be formatted (one line per problem on stderr).
Usable as a pre-commit hook (see the README).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from traitlets import Bool, Unicode

from ..lint.config import ConfigError, ConfigFinder, build_spec, parse_tools
from ..lint.format import FormatSpec, format_cell, format_python

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", ".ipynb_checkpoints", "venv", "build"})


@dataclass
class FileResult:
    """What happened to one file."""

    path: str
    changed: bool = False
    skipped: str = ""
    errors: list[str] = field(default_factory=list)
    cells: list[dict[str, Any]] = field(default_factory=list)
    diff: str = ""

    def to_json(self, with_diff: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"path": self.path, "changed": self.changed}
        payload["errors"] = self.errors
        if self.skipped:
            payload["skipped"] = self.skipped
        if self.cells:
            payload["cells"] = self.cells
        if with_diff and self.diff:
            payload["diff"] = self.diff
        return payload


def _diff(before: str, after: str, name: str) -> str:
    def lines(text: str) -> list[str]:
        return [line if line.endswith("\n") else line + "\n" for line in text.splitlines()]

    return "".join(difflib.unified_diff(lines(before), lines(after), name, name))


def collect(paths: list[str]) -> tuple[list[Path], list[str]]:
    """Files to format (directories searched for .py and .ipynb) and errors for bad paths."""
    files: list[Path] = []
    errors: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                files.extend(Path(root, n) for n in sorted(names) if n.endswith((".py", ".ipynb")))
        elif not path.exists():
            errors.append(f"{raw}: no such file or directory")
        elif path.suffix not in (".py", ".ipynb"):
            errors.append(f"{raw}: not a .py or .ipynb file")
        else:
            files.append(path)
    return files, errors


class LintApp(JupyterApp):
    """`jupyter sidecar lint`."""

    name = "jupyter-sidecar-lint"
    description = """Format notebooks and Python files with isort and black (magic-safe).

    Writes the files back unless --check or --diff is given. Exit status: 0 fine, 1 with
    --check when something would change, 2 when something could not be formatted."""
    examples = """
    jupyter sidecar lint analysis.ipynb src/
    jupyter sidecar lint --check --diff notebooks/
    """

    check = Bool(False, config=True, help="Write nothing; exit 1 if any file would be reformatted.")
    diff = Bool(False, config=True, help="Write nothing; print a unified diff of the changes.")
    json_output = Bool(False, config=True, help="Print the results as JSON on stdout.")
    tools = Unicode("isort,black", config=True, help="Tools to run, in order, comma-separated.")

    flags = {
        **base_flags,
        "check": ({"LintApp": {"check": True}}, check.help),
        "diff": ({"LintApp": {"diff": True}}, diff.help),
        "json": ({"LintApp": {"json_output": True}}, json_output.help),
    }
    aliases = {**base_aliases, "tools": "LintApp.tools"}

    def start(self) -> None:
        self.exit(self.run(list(self.extra_args)))

    def run(self, paths: list[str]) -> int:
        """Format `paths`; the exit status."""
        try:
            tool_names = parse_tools([t.strip() for t in self.tools.split(",") if t.strip()])
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if not paths:
            print("error: give at least one .ipynb or .py file (or directory)", file=sys.stderr)
            return 2
        files, errors = collect(paths)
        finder = ConfigFinder(Path(os.sep))  # the file's whole filesystem
        results = [self.lint_file(path, finder, tool_names) for path in files]
        errors += [problem for result in results for problem in result.errors]
        for problem in errors:
            print(f"error: {problem}", file=sys.stderr)
        changed = [r for r in results if r.changed]
        if self.json_output:
            payload = {"files": [r.to_json(self.diff) for r in results], "errors": errors}
            print(json.dumps(payload, indent=1))
        else:
            for result in changed:
                print(
                    f"{'would reformat' if self.dry else 'reformatted'} {result.path}",
                    file=sys.stderr,
                )
                if self.diff:
                    sys.stdout.write(result.diff)
        verb = "would be reformatted" if self.dry else "reformatted"
        summary = f"{len(changed)} file(s) {verb}, {len(results) - len(changed)} unchanged"
        print(summary + (f", {len(errors)} error(s)" if errors else ""), file=sys.stderr)
        if errors:
            return 2
        return 1 if self.check and changed else 0

    @property
    def dry(self) -> bool:
        return bool(self.check or self.diff)

    def lint_file(self, path: Path, finder: ConfigFinder, tools: tuple[str, ...]) -> FileResult:
        """Format one file (written back unless --check/--diff)."""
        result = FileResult(str(path))
        directory = path.resolve().parent
        try:
            spec = build_spec(finder.find(directory), None, tools, directory)
        except ConfigError as error:
            result.errors.append(f"{path}: {error}")
            return result
        if path.suffix == ".ipynb":
            lint_notebook(path, spec, result, write=not self.dry)
            return result
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            result.errors.append(f"{path}: cannot read: {error}")
            return result
        newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
        outcome = format_python(text.replace("\r\n", "\n"), spec)
        if outcome.error:
            result.errors.append(f"{path}: {outcome.error}")
        elif outcome.changed:
            result.changed = True
            result.diff = _diff(text.replace("\r\n", "\n"), outcome.source, str(path))
            if not self.dry:
                with open(path, "w", encoding="utf-8", newline=newline) as handle:
                    handle.write(outcome.source)
        return result


def lint_notebook(path: Path, spec: FormatSpec, result: FileResult, write: bool) -> None:
    """Format a notebook's code cells; write it back through nbformat if one changed."""
    import nbformat

    try:
        notebook = nbformat.read(path, as_version=nbformat.NO_CONVERT)
    except Exception as error:  # nbformat raises JSON, validation and OS errors
        message = str(error).strip().splitlines()
        result.errors.append(f"{path}: not a readable notebook: {message[0] if message else error}")
        return
    if notebook.get("nbformat") != 4:
        result.errors.append(f"{path}: not an nbformat 4 notebook")
        return
    metadata = notebook.get("metadata", {})
    language = (metadata.get("language_info") or {}).get("name") or (
        metadata.get("kernelspec") or {}
    ).get("language")
    if language and str(language).lower() != "python":
        result.skipped = f"a {language} notebook"
        return
    diffs: list[str] = []
    for index, cell in enumerate(notebook.cells):
        if cell.get("cell_type") != "code":
            continue
        outcome = format_cell(cell.source, spec)
        entry: dict[str, Any] = {"index": index, "id": cell.get("id"), "changed": outcome.changed}
        if outcome.error:
            entry["error"] = outcome.error
            where = f"cell {index}" + (f" (id {cell['id']})" if cell.get("id") else "")
            result.errors.append(f"{path}: {where}: {outcome.error}")
        elif outcome.changed:
            diffs.append(_diff(cell.source, outcome.source, f"{path}:cell_{index}"))
            cell.source = outcome.source
        result.cells.append(entry)
    result.changed = bool(diffs)
    result.diff = "".join(diffs)
    if result.changed and write:
        nbformat.write(notebook, path)
