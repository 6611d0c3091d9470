"""Lint worker processes, one pipe each: the server hands a worker one chunk at a time.

Not a ProcessPoolExecutor: its queue hides when a task starts (a timeout could only count
from submission), and its only way to stop a stuck task is to end the whole pool, cancelling
every other request's cells. Here a worker streams one outcome per cell, so the server knows
which cell is running, times each cell from when the worker starts it, and when one hangs
kills that worker alone: the cells it had not reached are handed out again.
"""

from __future__ import annotations

import contextlib
import enum
import multiprocessing
import sys
import time
import types
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from .checkjob import init_check_worker, run_check
from .config import ConfigError, validate
from .format import RUFF, FormatSpec, format_cell, format_python, init_worker
from .prepare import PreparedCache
from .rufffmt import format_cells_ruff

READY = "ready"
# A fresh worker imports and warms black and isort before it says READY; a loaded machine
# can make that slow, but not this slow.
START_TIMEOUT = 120.0


class Stop(enum.Enum):
    """Why a worker stopped before the end of its chunk."""

    HUNG = "hung"  # one cell took longer than the timeout: the worker was killed
    DIED = "died"  # the process ended (crashed, or killed from outside)
    NO_START = "no start"  # it never became ready


@dataclass
class Report:
    """What came back from one chunk: one result per cell reached, in order, and why the
    worker stopped early, if it did (the cell at `len(results)` is the one it was on)."""

    results: list[Any] = field(default_factory=list)
    stop: Stop | None = None
    exitcode: int | None = None
    seconds: float = 0.0


def worker_main(conn: Connection, nice: int, check_cache: int | None = None) -> None:
    """A worker process: warm up, say READY, then answer chunks until told to stop (None).
    With `check_cache` (its prepared-cell cache's size) it is a check worker: it warms up
    the masking instead of black and isort, and answers "check" jobs."""
    if check_cache is None:
        init_worker(nice)
        prepared = None
    else:
        init_check_worker(nice)
        prepared = PreparedCache(check_cache)
    conn.send(READY)
    while True:
        try:
            message = conn.recv()
        except EOFError:
            return
        if message is None:
            return
        kind, sources, spec = message
        if kind == "check":
            conn.send(run_check(sources, spec, prepared))
            continue
        if kind == "validate":
            try:
                validate(spec)
            except ConfigError as error:
                conn.send(str(error))
            else:
                conn.send(None)
            continue
        for outcome in iter_outcomes(sources, spec):
            conn.send(outcome)


def iter_outcomes(sources: list[str], spec: FormatSpec) -> Iterator[Any]:
    """One outcome per cell, each as soon as it is known (ruff formats the chunk at once)."""
    if spec.tools == RUFF:
        yield from format_cells_ruff(sources, spec)
        return
    format_one = format_python if spec.python_file else format_cell
    for source in sources:
        yield format_one(source, spec)


@contextlib.contextmanager
def main_hidden() -> Iterator[None]:
    """While a worker is spawned: it needs nothing from the server's `__main__`, and spawn
    would run a launch script without a `__name__` guard again in every worker."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


class Worker:
    """One worker process and its pipe. `start` runs on the event loop (spawning touches
    `sys.modules`); `run` blocks, in a thread of its own. `check_cache`: a check worker
    (see `worker_main`)."""

    def __init__(self, nice: int, check_cache: int | None = None) -> None:
        self.nice = nice
        self.check_cache = check_cache
        self.process: Any = None  # a SpawnProcess
        self.conn: Connection | None = None
        self.ready = False

    @property
    def pid(self) -> int | None:
        return None if self.process is None else int(self.process.pid)

    def start(self) -> None:
        """Spawn the process if there is none (it warms up on its own; `run` waits for it)."""
        if self.process is not None:
            return
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=worker_main, args=(child, self.nice, self.check_cache), daemon=True
        )
        with main_hidden():
            process.start()
        child.close()
        self.process, self.conn, self.ready = process, parent, False

    def run(self, kind: str, sources: list[str], spec: Any, timeout: float) -> Report:
        """Hand over one chunk and collect one result per cell (one in all for "validate"
        and "check"), allowing each `timeout` seconds from when the worker starts it. A hung
        cell kills this worker (only)."""
        report = Report()
        conn, expected = self.conn, len(sources) if kind == "format" else 1
        if conn is None:
            report.stop = Stop.NO_START
            return report
        try:
            if not self.ready:
                if not conn.poll(START_TIMEOUT) or conn.recv() != READY:
                    self.kill()
                    report.stop = Stop.NO_START
                    return report
                self.ready = True
            started = time.monotonic()
            conn.send((kind, sources, spec))
            while len(report.results) < expected:
                if not conn.poll(timeout):
                    self.kill()
                    report.stop = Stop.HUNG
                    break
                report.results.append(conn.recv())
            report.seconds = time.monotonic() - started
        except (EOFError, OSError):
            report.stop = Stop.DIED
            report.exitcode = self.kill()
        return report

    def kill(self) -> int | None:
        """End the process now (the next `start` spawns a fresh one); its exit code."""
        process, conn = self.process, self.conn
        self.process, self.conn, self.ready = None, None, False
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join(10)
        code = process.exitcode
        return None if code is None else int(code)

    def interrupt(self) -> None:
        """Signal a busy worker's process to end (from the loop, at shutdown): the thread in
        `run` then sees it die and cleans up."""
        process = self.process
        if process is not None and process.is_alive():
            process.kill()

    def stop(self) -> None:
        """Ask an idle worker to exit (it finishes nothing: it has nothing)."""
        if self.conn is not None:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        process, self.process = self.process, None
        if process is not None:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)
        if self.conn is not None:
            self.conn.close()
            self.conn = None
