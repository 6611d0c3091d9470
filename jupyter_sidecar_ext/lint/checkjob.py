"""A check as a check worker process runs it (lint/checkpool.py hands it over).

Everything CPU-bound of a check happens here, outside the server's process: masking and
preparing the cells (kept in the worker's own prepared-cell cache), the ruff runs, mapping
positions back, and encoding each cell's diagnostics as the JSON the answer carries, so the
server only ships sources out and text back and its event loop never waits for this work's
GIL.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from typing import Any

from .check import CheckError, CheckSpec, check_file, check_notebook
from .prepare import PreparedCache, prepare

# What a check worker answers: ("ok", one JSON list of diagnostics per source), ("error",
# the CheckError's message: the request's error), ("crash", what went wrong: our bug).
Answer = tuple[str, Any]


def run_check(sources: Sequence[str], spec: CheckSpec, cache: PreparedCache | None) -> Answer:
    """Diagnostics for `sources`: notebook cells checked as one program, or whole .py files
    when `spec` names one."""
    try:
        if spec.filename.endswith(".py"):
            found = [check_file(source, spec) for source in sources]
        else:
            found = check_notebook(sources, spec, cache)
        return "ok", [json.dumps(diagnostics) for diagnostics in found]
    except CheckError as error:
        return "error", str(error)
    except Exception as error:  # reported to the server (a 500 there), never a dead worker
        return "crash", f"checking failed: {type(error).__name__}: {error}"


def init_check_worker(nice: int) -> None:
    """A check worker starts: its priority, then the masking warmed up (IPython's tokenizer
    imported), so that its first check is not slowed by imports."""
    if nice > 0:
        with contextlib.suppress(OSError):
            os.nice(nice)
    with contextlib.suppress(Exception):
        prepare("%matplotlib inline\nfiles = !ls\nfiles?\nx = 1")
