"""The lint service behind `POST /api/sidecar/lint`: isort + black in a process pool, cached.

Formatting is CPU-bound (black takes about half a millisecond per line). On the server's event
loop it would freeze every kernel's traffic, and in threads it would hold the GIL, so it runs in
worker processes, started with "spawn" (forking a server that runs threads is unsafe). Cells are
spread over the workers in balanced chunks. Results are kept in a bounded LRU keyed by
(settings, source), so re-linting unchanged cells is answered on the loop without the pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
import multiprocessing
import os
import sys
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from traitlets import Bool, Float, Int
from traitlets.config import LoggingConfigurable

from .config import ConfigFinder, build_spec, parse_tools, validate
from .format import FormatSpec, Outcome, format_cells, init_worker, unchanged

# Chunks per worker: enough to balance uneven cells, few enough to keep IPC small.
CHUNKS_PER_WORKER = 4


@contextlib.contextmanager
def _main_hidden() -> Iterator[None]:
    """While workers are spawned: they need nothing from the server's `__main__`, and spawn
    would run a launch script without a `__name__` guard again in every worker."""
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        if main is not None:
            sys.modules["__main__"] = main


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class LintStats:
    """Counters, for tests and diagnostics (a cache hit leaves `pool_tasks` unchanged)."""

    requests: int = 0
    cells: int = 0
    cache_hits: int = 0
    pool_tasks: int = 0
    pool_cells: int = 0
    pool_restarts: int = 0
    validations: int = 0


class ResultCache:
    """LRU of outcomes, bounded by entries and by the characters it holds."""

    def __init__(self, max_entries: int, max_chars: int) -> None:
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.chars = 0
        self._items: OrderedDict[bytes, Outcome] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: bytes) -> Outcome | None:
        outcome = self._items.get(key)
        if outcome is not None:
            self._items.move_to_end(key)
        return outcome

    def put(self, key: bytes, outcome: Outcome) -> None:
        size = len(outcome.source) + 64
        if size > self.max_chars or self.max_entries <= 0:
            return
        old = self._items.pop(key, None)
        if old is not None:
            self.chars -= len(old.source) + 64
        self._items[key] = outcome
        self.chars += size
        while len(self._items) > self.max_entries or self.chars > self.max_chars:
            _, evicted = self._items.popitem(last=False)
            self.chars -= len(evicted.source) + 64


def plan_chunks(sizes: Sequence[int], bins: int) -> list[list[int]]:
    """Indexes grouped into at most `bins` chunks of similar total size, biggest first
    (longest-first onto the least-loaded chunk)."""
    bins = max(1, min(bins, len(sizes)))
    loads = [(0, b) for b in range(bins)]
    chunks: list[list[int]] = [[] for _ in range(bins)]
    totals = [0] * bins
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        load, b = heapq.heappop(loads)
        chunks[b].append(index)
        totals[b] = load + sizes[index] + 200  # a fixed cost per cell, too
        heapq.heappush(loads, (totals[b], b))
    order = sorted(range(bins), key=lambda b: -totals[b])
    return [sorted(chunks[b]) for b in order if chunks[b]]


class LintEngine:
    """Formats cells in a process pool, answering what it already knows from its cache."""

    def __init__(
        self,
        workers: int = 0,
        cache_entries: int = 20_000,
        cache_chars: int = 64 * 1024 * 1024,
        timeout: float = 120.0,
        worker_nice: int = 0,
        log: logging.Logger | None = None,
    ) -> None:
        self.workers = workers if workers > 0 else default_workers()
        self.timeout = timeout
        self.worker_nice = worker_nice
        self.log = log or logging.getLogger(__name__)
        self.stats = LintStats()
        self.cache = ResultCache(cache_entries, cache_chars)
        self._pool: ProcessPoolExecutor | None = None
        self._closed = False
        self._valid: OrderedDict[str, None] = OrderedDict()

    def _executor(self) -> ProcessPoolExecutor:
        if self._closed:
            raise RuntimeError("the lint service is shutting down")
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_worker,
                initargs=(self.worker_nice,),
            )
        return self._pool

    def prewarm(self) -> None:
        """Start every worker now (they import black and isort), not on the first request."""
        if self._pool is not None:
            return
        pool = self._executor()
        with _main_hidden():
            for _ in range(self.workers):
                pool.submit(os.getpid)

    async def validate(self, spec: FormatSpec) -> None:
        """Check settings in a worker (building black's Mode and isort's Config there), once
        per distinct settings: the server process never imports black or isort."""
        key = spec.cache_key()
        if key in self._valid:
            self._valid.move_to_end(key)
            return
        self.stats.validations += 1
        pool = self._executor()
        try:
            await asyncio.wait_for(self._submit(pool, validate, spec), self.timeout)
        except (BrokenProcessPool, asyncio.TimeoutError):
            self._discard(pool)
            raise RuntimeError("the lint workers failed; try again") from None
        self._valid[key] = None
        while len(self._valid) > 256:
            self._valid.popitem(last=False)

    async def format(self, sources: Sequence[str], spec: FormatSpec) -> list[Outcome]:
        """Outcomes for `sources` in order; identical sources are formatted once. An empty
        request starts the workers (a client can warm the service up before it is needed)."""
        if not sources:
            self.prewarm()
            return []
        self.stats.requests += 1
        self.stats.cells += len(sources)
        base = hashlib.blake2b(spec.cache_key().encode(), digest_size=20)
        results: list[Outcome | None] = [None] * len(sources)
        missing: dict[bytes, list[int]] = {}
        for index, source in enumerate(sources):
            digest = base.copy()
            digest.update(source.encode("utf-8", "surrogatepass"))
            key = digest.digest()
            hit = self.cache.get(key)
            if hit is not None:
                results[index] = hit
                self.stats.cache_hits += 1
            else:
                missing.setdefault(key, []).append(index)
        if missing:
            keys = list(missing)
            outcomes = await self._run([sources[missing[k][0]] for k in keys], spec)
            for key, (outcome, keep) in zip(keys, outcomes, strict=True):
                if keep:
                    self.cache.put(key, outcome)
                for index in missing[key]:
                    results[index] = outcome
        return [r if r is not None else unchanged(sources[i]) for i, r in enumerate(results)]

    async def _run(self, sources: list[str], spec: FormatSpec) -> list[tuple[Outcome, bool]]:
        """Format in the pool; (outcome, cacheable) per source. Failures of the pool itself
        (a worker died, a timeout) become per-cell errors that are not cached."""
        chunks = plan_chunks([len(s) for s in sources], self.workers * CHUNKS_PER_WORKER)
        tasks: dict[asyncio.Future[list[Outcome]], list[int]] = {}
        pools: dict[asyncio.Future[list[Outcome]], ProcessPoolExecutor] = {}
        pool = self._executor()
        for chunk in chunks:
            batch = [sources[i] for i in chunk]
            try:
                future = self._submit(pool, format_cells, batch, spec)
            except BrokenProcessPool:
                self._discard(pool)
                pool = self._executor()
                future = self._submit(pool, format_cells, batch, spec)
            tasks[future] = chunk
            pools[future] = pool
            self.stats.pool_tasks += 1
            self.stats.pool_cells += len(chunk)
        done, _ = await asyncio.wait(tasks, timeout=self.timeout)
        results: list[tuple[Outcome, bool] | None] = [None] * len(sources)
        failed: list[ProcessPoolExecutor] = []  # only the pools that broke or hung
        for future, chunk in tasks.items():
            if future in done and not future.cancelled() and future.exception() is None:
                for index, outcome in zip(chunk, future.result(), strict=True):
                    results[index] = (outcome, True)
                continue
            if future not in done:
                future.cancel()
                message = f"formatting timed out after {self.timeout:g} s"
                failed.append(pools[future])
            else:
                error = None if future.cancelled() else future.exception()
                message = f"formatter failed: {error!r}"
                if isinstance(error, BrokenProcessPool):
                    failed.append(pools[future])
            for index in chunk:
                results[index] = (unchanged(sources[index], message), False)
        for broken in dict.fromkeys(failed):
            self.log.warning("Restarting the lint workers (a worker died or timed out)")
            self._discard(broken)
        return [r or (unchanged(sources[i]), False) for i, r in enumerate(results)]

    @staticmethod
    def _submit(pool: ProcessPoolExecutor, fn: Callable[..., Any], *args: Any) -> Any:
        """Submit (which may spawn a worker) as an asyncio future."""
        with _main_hidden():
            return asyncio.wrap_future(pool.submit(fn, *args))

    def _discard(self, pool: ProcessPoolExecutor) -> None:
        """Stop a broken or stuck pool; the next request starts a fresh one."""
        if self._pool is pool:
            self._pool = None
            self.stats.pool_restarts += 1
        _terminate(pool)

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the workers (called from the extension's stop_extension)."""
        self._closed = True
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(
                asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True), timeout
            )
        except asyncio.TimeoutError:
            _terminate(pool)


def _terminate(pool: ProcessPoolExecutor) -> None:
    terminate = getattr(pool, "terminate_workers", None)  # Python 3.14+
    if terminate is not None:
        terminate()
        return
    # Older Pythons have no public way to stop a busy worker.
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()


class LintService(LoggingConfigurable):
    """What the lint handler needs: the engine, config discovery and the request bounds
    (`c.LintService.*`)."""

    workers = Int(
        0,
        config=True,
        help="Worker processes that format cells (black and isort are CPU-bound and never run "
        "on the server's event loop); 0 means min(2, CPU count).",
    )
    prewarm = Bool(
        False,
        config=True,
        help="Start the lint workers when the server starts, so the first lint is not slowed "
        "by their start-up (about a second: they import black and isort). Otherwise they "
        "start on the first lint request; a request with no cells starts them without "
        "waiting (what a client does when it loads).",
    )
    worker_nice = Int(
        5,
        config=True,
        help="Niceness added to lint workers, so formatting yields the CPU to the server and "
        "to kernels. 0 leaves their priority alone.",
    )
    timeout = Float(
        120.0,
        config=True,
        help="Seconds one lint request may take; cells not done by then get an error and the "
        "workers are restarted.",
    )
    max_request_bytes = Int(
        8 * 1024 * 1024, config=True, help="Largest lint request body, in bytes (413 beyond)."
    )
    max_cells = Int(10_000, config=True, help="Most cells in one lint request (400 beyond).")
    cache_entries = Int(
        20_000, config=True, help="Formatted cells remembered, by (settings, source)."
    )
    cache_chars = Int(
        64 * 1024 * 1024,
        config=True,
        help="Characters of formatted source the lint cache may hold.",
    )
    verify = Bool(
        True,
        config=True,
        help="Check that black's output parses to the same AST as its input before using it "
        "(black's safety check, without its second formatting pass).",
    )

    def __init__(self, root: str | Path | None = None, **kwargs: Any) -> None:
        """`root`: the directory config files are searched up to (None: none are read)."""
        super().__init__(**kwargs)
        self.finder = ConfigFinder(root)
        self.engine = LintEngine(
            workers=self.workers,
            cache_entries=self.cache_entries,
            cache_chars=self.cache_chars,
            timeout=self.timeout,
            worker_nice=self.worker_nice,
            log=self.log,
        )

    def start(self) -> None:
        """With `prewarm`, start the workers now (in the background: nothing waits for them)."""
        if self.prewarm:
            self.engine.prewarm()

    async def stop(self) -> None:
        """Stop the workers (server shutdown)."""
        await self.engine.shutdown()

    async def settings(self, path: str | None, tools: Any, options: Any) -> FormatSpec:
        """The FormatSpec for a request; ConfigError (a 400) for bad input."""
        parsed = parse_tools(tools)
        spec = await asyncio.to_thread(self._settings, path, parsed, options)
        await self.engine.validate(spec)
        return spec

    def _settings(self, path: str | None, tools: tuple[str, ...], options: Any) -> FormatSpec:
        """Config discovery reads files: in a thread. A `.py` path is a Python file: its
        sources are formatted as whole files (a `%` line is Python there, not a magic, and
        the trailing newline is kept as black writes files)."""
        directory = self.finder.directory_for(path)
        found = self.finder.find(directory)
        spec = build_spec(found, options, tools, directory, self.verify, check=False)
        is_python_file = path is not None and path.endswith(".py")
        return replace(spec, python_file=True) if is_python_file else spec
