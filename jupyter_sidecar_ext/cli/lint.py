"""`jupyter sidecar lint PATH...`: format .ipynb and .py files as the server does (isort +
black, or ruff), and with --check / --fix report and fix ruff's diagnostics (cli/lintcheck.py).

Notebooks get the same cell formatting as the lint endpoint (magics kept, one bad cell reported
and left alone); .py files are formatted whole. Settings come from the nearest pyproject.toml /
setup.cfg / .isort.cfg / ruff.toml at or above each file, which also choose the formatter
(README: Lint). Exit status: 0 fine, 1 with --check when a file would change or has
diagnostics, and with --fix when diagnostics remain, 2 when something could not be formatted
or checked (one line per problem on stderr). Usable as a pre-commit hook (see the README).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from traitlets import Bool, Unicode

from ..lint.check import find_ruff
from ..lint.config import ConfigError, ConfigFinder, build_spec, parse_tools
from ..lint.format import RUFF, FormatSpec
from ..lint.ruffconfig import choose_tools, find_ruff_config
from ..lint.rufffmt import format_chunk
from .lintcheck import check_path, format_diagnostic

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
    diagnostics: list[dict[str, Any]] | None = None  # with --check / --fix
    fixed: int = 0

    def to_json(self, with_diff: bool) -> dict[str, Any]:
        payload: dict[str, Any] = {"path": self.path, "changed": self.changed}
        payload["errors"] = self.errors
        if self.diagnostics is not None:
            payload["diagnostics"] = self.diagnostics
            payload["fixed"] = self.fixed
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
    description = """Format notebooks and Python files (magic-safe); check them with ruff.

    Formats with isort + black, or ruff (--tools, or the project's config), and writes the
    files back unless --check or --diff is given. --check also prints ruff's diagnostics
    (path:cell:line:col: CODE message); --fix applies ruff's safe fixes, then formats. Exit
    status: 0 fine, 1 with --check when something would change or is diagnosed (with --fix:
    when diagnostics remain), 2 when something could not be formatted or checked."""
    examples = """
    jupyter sidecar lint analysis.ipynb src/
    jupyter sidecar lint --check --diff notebooks/
    jupyter sidecar lint --fix analysis.ipynb
    jupyter sidecar lint --check --json analysis.ipynb
    """

    check = Bool(
        False,
        config=True,
        help="Write nothing; print ruff's diagnostics; exit 1 if any file would be reformatted "
        "or has diagnostics.",
    )
    diff = Bool(False, config=True, help="Write nothing; print a unified diff of the changes.")
    fix = Bool(
        False,
        config=True,
        help="Apply ruff's safe fixes, then format; print the diagnostics left (exit 1 if any).",
    )
    diagnostics = Bool(
        True, config=True, help="With --check, report ruff's diagnostics (else formatting only)."
    )
    json_output = Bool(False, config=True, help="Print the results as JSON on stdout.")
    tools = Unicode(
        "",
        config=True,
        help="Tools to run, in order, comma-separated: isort,black or ruff. Empty: the "
        "project's choice (ruff when its nearest ruff config is nearer than [tool.black]).",
    )

    flags = {
        **base_flags,
        "check": ({"LintApp": {"check": True}}, check.help),
        "diff": ({"LintApp": {"diff": True}}, diff.help),
        "fix": ({"LintApp": {"fix": True}}, fix.help),
        "no-diagnostics": ({"LintApp": {"diagnostics": False}}, "--check formats only."),
        "json": ({"LintApp": {"json_output": True}}, json_output.help),
    }
    aliases = {**base_aliases, "tools": "LintApp.tools"}

    def start(self) -> None:
        self.exit(self.run(list(self.extra_args)))

    def run(self, paths: list[str]) -> int:
        """Format (and check or fix) `paths`; the exit status."""
        try:
            names = [t.strip() for t in self.tools.split(",") if t.strip()]
            tool_names = parse_tools(names) if names else None
        except ConfigError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
        if not paths:
            print("error: give at least one .ipynb or .py file (or directory)", file=sys.stderr)
            return 2
        if self.fix and self.dry:
            print("error: --fix writes files: not with --check or --diff", file=sys.stderr)
            return 2
        ruff = find_ruff()
        if ruff is None and (self.fix or self.checking or tool_names == RUFF):
            print("error: this needs ruff, which is not installed", file=sys.stderr)
            return 2
        files, errors = collect(paths)
        finder = ConfigFinder(Path(os.sep))  # the file's whole filesystem
        results = [self.lint_file(path, finder, tool_names, ruff) for path in files]
        errors += [problem for result in results for problem in result.errors]
        for problem in errors:
            print(f"error: {problem}", file=sys.stderr)
        changed = [r for r in results if r.changed]
        diagnosed = sum(len(r.diagnostics or ()) for r in results)
        if self.json_output:
            payload = {"files": [r.to_json(self.diff) for r in results], "errors": errors}
            print(json.dumps(payload, indent=1))
        else:
            for result in results:
                for diagnostic in result.diagnostics or ():
                    print(format_diagnostic(result.path, diagnostic))
            for result in changed:
                print(
                    f"{'would reformat' if self.dry else 'reformatted'} {result.path}",
                    file=sys.stderr,
                )
                if self.diff:
                    sys.stdout.write(result.diff)
        verb = "would be reformatted" if self.dry else "reformatted"
        summary = f"{len(changed)} file(s) {verb}, {len(results) - len(changed)} unchanged"
        if self.checking or self.fix:
            fixable = sum(1 for r in results for d in r.diagnostics or () if d.get("fix"))
            fixed = sum(r.fixed for r in results)
            summary += f", {diagnosed} diagnostic(s)"
            summary += f" ({fixed} fixed)" if self.fix else f" ({fixable} fixable with --fix)"
        print(summary + (f", {len(errors)} error(s)" if errors else ""), file=sys.stderr)
        if errors:
            return 2
        if self.fix:
            return 1 if diagnosed else 0
        return 1 if self.check and (changed or diagnosed) else 0

    @property
    def dry(self) -> bool:
        return bool(self.check or self.diff)

    @property
    def checking(self) -> bool:
        """Whether diagnostics are reported (--check without --no-diagnostics)."""
        return bool(self.check and self.diagnostics)

    def lint_file(
        self,
        path: Path,
        finder: ConfigFinder,
        tools: tuple[str, ...] | None,
        ruff: str | None,
    ) -> FileResult:
        """Fix (--fix), format (written back unless --check/--diff), then check."""
        result = FileResult(str(path))
        if self.fix:
            assert ruff is not None
            fixed = check_path(path, finder, ruff, fix=True)
            if fixed.error:
                result.errors.append(f"{path}: {fixed.error}")
                return result
            result.fixed = fixed.fixed
        self.format_file(path, finder, tools, ruff, result)
        if (self.checking or self.fix) and not result.errors and not result.skipped:
            assert ruff is not None
            checked = check_path(path, finder, ruff, fix=False)
            if checked.error:
                result.errors.append(f"{path}: {checked.error}")
            result.diagnostics = checked.diagnostics
        return result

    def format_file(
        self,
        path: Path,
        finder: ConfigFinder,
        tools: tuple[str, ...] | None,
        ruff: str | None,
        result: FileResult,
    ) -> None:
        directory = path.resolve().parent
        try:
            found = finder.find(directory)
            wants_ruff = ruff is not None and tools in (None, RUFF)
            config = find_ruff_config(finder, directory) if wants_ruff else ""
            if tools is None:
                tools = choose_tools(found, config, "project", ruff is not None)
            spec = build_spec(found, None, tools, directory, ruff=ruff or "", ruff_config=config)
        except ConfigError as error:
            result.errors.append(f"{path}: {error}")
            return
        if path.suffix == ".ipynb":
            lint_notebook(path, spec, result, write=not self.dry)
            return
        try:
            with open(path, encoding="utf-8", newline="") as handle:
                text = handle.read()
        except (OSError, UnicodeDecodeError) as error:
            result.errors.append(f"{path}: cannot read: {error}")
            return
        newline = "\r\n" if "\r\n" in text.split("\n", 1)[0] + "\n" else "\n"
        (outcome,) = format_chunk([text.replace("\r\n", "\n")], replace(spec, python_file=True))
        if outcome.error:
            result.errors.append(f"{path}: {outcome.error}")
        elif outcome.changed:
            result.changed = True
            result.diff = _diff(text.replace("\r\n", "\n"), outcome.source, str(path))
            if not self.dry:
                with open(path, "w", encoding="utf-8", newline=newline) as handle:
                    handle.write(outcome.source)


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
    code = [(i, cell) for i, cell in enumerate(notebook.cells) if cell.get("cell_type") == "code"]
    outcomes = format_chunk([cell.source for _, cell in code], spec)
    for (index, cell), outcome in zip(code, outcomes, strict=True):
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
