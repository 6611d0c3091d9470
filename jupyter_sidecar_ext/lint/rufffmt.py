"""Formatting with ruff (`tools: ["ruff"]`): its import sorting, then `ruff format`, with the
same magic masking as isort + black (lint/magics.py).

ruff is a program, not a library: one run per cell would cost its start-up 400 times for a
200-cell notebook. So a chunk of cells is written as one file per cell into a temporary
directory and ruff runs twice over all of them: `ruff check --select I --fix` (sorting imports
between magics, which are plain names then, so no import block joins across one), then `ruff
format` (magics after an import masked as imports, as for black). A cell ruff cannot parse gets
its own error; the others are formatted. Runs in the lint workers and in the CLI.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .format import PYTHON_CELL_MAGICS, RUFF, FormatSpec, Outcome, format_cells, unchanged
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

# A ruff run over a chunk may take this long before its cells get an error.
RUN_TIMEOUT = 120.0
_FAILED = re.compile(
    r"^error: Failed to (?:parse|format) (?:.*[/\\])?(?P<file>c\d+\.py):?\s*(?P<why>.*)$"
)


class RuffError(RuntimeError):
    """ruff could not run at all (not installed, a bad configuration)."""


@dataclass
class _Job:
    """One cell to format: its masked Python and how to put the cell back together."""

    index: int
    masked: Masked
    header: str  # a Python cell magic's `%%time` line, or ""
    text: str = ""
    semicolon: bool = False
    error: str = ""


def ruff_options(spec: FormatSpec) -> list[str]:
    """The configuration arguments: the project's file, or ruff's defaults alone."""
    options = ["--no-cache"]
    options += ["--config", spec.ruff_config] if spec.ruff_config else ["--isolated"]
    line_length = dict(spec.black).get("line_length")
    if line_length is not None:  # a request's `options.black.line_length`
        options += ["--line-length", str(line_length)]
    return options


def run(spec: FormatSpec, arguments: list[str], cwd: str | None = None) -> str:
    """Run ruff; its stderr. RuffError when it cannot run or rejects its configuration."""
    if not spec.ruff:
        raise RuffError("formatting with ruff needs ruff, which is not installed on the server")
    try:
        done = subprocess.run(
            [spec.ruff, *arguments],
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            cwd=cwd,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuffError(f"ruff: {type(error).__name__}") from None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    if done.returncode != 0 and not any(_FAILED.match(line) for line in lines):
        # not a cell's fault (those name their file): ruff or its configuration
        causes = [line for line in lines if line.startswith("Cause:")]
        reason = (causes or lines or [f"exit status {done.returncode}"])[0]
        if spec.ruff_config:
            reason = reason.replace(spec.ruff_config, Path(spec.ruff_config).name)
        raise RuffError(f"ruff: {reason}")
    return done.stderr


def validate_ruff(spec: FormatSpec) -> None:
    """Format nothing with the configuration: RuffError if ruff or its config is unusable."""
    with tempfile.TemporaryDirectory(prefix="sidecar-ruff-") as tmp:
        Path(tmp, "c0.py").write_text("", encoding="utf-8")
        stderr = run(spec, ["format", *ruff_options(spec), "c0.py"], tmp)
    if _failures(stderr):
        raise RuffError("ruff cannot format an empty file with this configuration")


def format_chunk(sources: list[str], spec: FormatSpec) -> list[Outcome]:
    """Outcomes for `sources` with the spec's tools, ruff or isort + black."""
    return format_cells_ruff(sources, spec) if spec.tools == RUFF else format_cells(sources, spec)


def format_cells_ruff(sources: list[str], spec: FormatSpec) -> list[Outcome]:
    """Outcomes for `sources` in order; never raises (ruff failing fails every cell)."""
    results: list[Outcome | None] = [None] * len(sources)
    jobs: list[_Job] = []
    python_magics = PYTHON_CELL_MAGICS | set(dict(spec.black).get("python_cell_magics", ()))
    for index, source in enumerate(sources):
        if spec.python_file:
            jobs.append(_Job(index, Masked(source), ""))
            continue
        if not source.strip():
            results[index] = unchanged(source)
            continue
        header, body = "", source
        magic = split_cell_magic(source)
        if magic is not None:
            if magic.name not in python_magics or not magic.body.strip():
                results[index] = unchanged(source)  # %%bash, %%sql...: not Python
                continue
            header, body = magic.header.rstrip(), magic.body
        try:
            jobs.append(_Job(index, mask_magics(body), header))
        except MaskError as error:
            results[index] = unchanged(source, f"IPython magic: {error}")
    if jobs:
        try:
            _format_jobs(jobs, spec)
        except Exception as error:  # ruff failed, a temporary file could not be written...
            reason = str(error) if isinstance(error, RuffError) else f"ruff: {error!r}"
            for job in jobs:
                job.error = reason
    for job in jobs:
        results[job.index] = _outcome(sources[job.index], job, spec)
    return [r if r is not None else unchanged(s) for r, s in zip(results, sources, strict=True)]


def _format_jobs(jobs: list[_Job], spec: FormatSpec) -> None:
    from black.handle_ipynb_magics import put_trailing_semicolon_back, remove_trailing_semicolon

    for job in jobs:
        job.text = job.masked.source
        if ";" in job.text and not spec.python_file:  # a cell's trailing `;` hides its result
            with contextlib.suppress(Exception):
                job.text, job.semicolon = remove_trailing_semicolon(job.text)
    with tempfile.TemporaryDirectory(prefix="sidecar-ruff-") as tmp:
        cwd = spec.ruff_cwd or tmp
        _sort_imports(jobs, spec, tmp, cwd)
        names = [f"c{n}.py" for n in range(len(jobs))]
        paths = [str(Path(tmp, name)) for name in names]
        _write(paths, [for_black(job.text, job.masked) for job in jobs])
        stderr = run(spec, ["format", *ruff_options(spec), *paths], cwd)
        failed = _failures(stderr)
        for n, (job, text) in enumerate(zip(jobs, _read(paths), strict=True)):
            if names[n] in failed:
                job.error = restore_names(f"ruff: {failed[names[n]]}", job.masked)
                continue
            text = as_plain_names(text, job.masked)
            if job.semicolon:
                text = put_trailing_semicolon_back(text, True)
            job.text = text


def _sort_imports(jobs: list[_Job], spec: FormatSpec, tmp: str, cwd: str) -> None:
    """ruff's import sorting on each run of lines between a cell's top-level magics (one file
    each), as isort is run: magics keep their place and no import block is split or joined
    across one, nor gets a blank line before one."""
    pieces: list[list[str]] = []
    for job in jobs:
        parts: list[str] = []
        segment: list[str] = []
        for line in job.text.splitlines(keepends=True):
            if job.masked.is_top_level(line):
                parts += ["".join(segment), line]
                segment = []
            else:
                segment.append(line)
        pieces.append([*parts, "".join(segment)])
    files: dict[str, tuple[int, int]] = {}
    for n, parts in enumerate(pieces):
        for k, part in enumerate(parts):
            if "import" in part and not jobs[n].masked.is_top_level(part):
                path = str(Path(tmp, f"i{len(files)}.py"))
                files[path] = (n, k)
    if not files:
        return
    _write(list(files), [pieces[n][k] for n, k in files.values()])
    sort_imports = ["check", "--select", "I", "--fix", "--exit-zero", *ruff_options(spec)]
    run(spec, [*sort_imports, *files], cwd)
    for path, text in zip(files, _read(list(files)), strict=True):
        n, k = files[path]
        if not pieces[n][k].endswith("\n"):
            text = text.rstrip("\n")
        pieces[n][k] = text
    for job, parts in zip(jobs, pieces, strict=True):
        job.text = "".join(parts)


def _failures(stderr: str) -> dict[str, str]:
    """File name -> why ruff could not format it ("cannot parse: 2:1: ...")."""
    failed: dict[str, str] = {}
    for line in stderr.splitlines():
        match = _FAILED.match(line.strip())
        if match:
            why = match.group("why")
            position = re.match(r"(\d+:\d+):\s*(.*)", why)
            failed[match.group("file")] = (
                f"cannot parse: {position.group(1)}: {position.group(2)}" if position else why
            )
    return failed


def _outcome(source: str, job: _Job, spec: FormatSpec) -> Outcome:
    if job.error:
        return unchanged(source, job.error)
    if spec.python_file:
        return Outcome(job.text, job.text != source)
    try:
        text = unmask_magics(job.text, job.masked)
    except MaskError as error:
        return unchanged(source, f"IPython magic: {error}")
    text = text.rstrip("\n")  # a cell does not end with a newline (black's convention too)
    if job.header:
        text = f"{job.header}\n{text}"
    return Outcome(text, text != source)


def _write(paths: list[str], texts: list[str]) -> None:
    for path, text in zip(paths, texts, strict=True):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)


def _read(paths: list[str]) -> list[str]:
    texts = []
    for path in paths:
        with open(path, encoding="utf-8", newline="") as handle:
            texts.append(handle.read())
    return texts
