"""The lint service behind `POST /api/sidecar/lint`: isort + black in worker processes, cached.

Formatting is CPU-bound (black takes about half a millisecond per line). On the server's event
loop it would freeze every kernel's traffic, and in threads it would hold the GIL, so it runs in
worker processes (lint/workers.py), handed out fairly and within bounds (lint/scheduler.py).
A request's cells are split in balanced chunks. Results are kept in a bounded LRU keyed by
(settings, source), so re-linting unchanged cells is answered on the loop without the workers.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import logging
import math
import os
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from traitlets import Bool, Enum, Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from .check import CheckError, CheckSpec, Diagnostic, find_ruff
from .checkpool import CheckPool
from .config import ConfigError, ConfigFinder, build_spec, parse_tools
from .format import RUFF, FormatSpec, Outcome, unchanged
from .ruffconfig import check_spec, choose_tools, find_ruff_config
from .scheduler import LintBusy, Scheduler

__all__ = ["CheckError", "LintBusy", "LintEngine", "LintService"]

# Chunks per worker: enough to balance uneven cells, few enough to keep IPC small.
CHUNKS_PER_WORKER = 4
# ...and no chunk much over this many characters (about a quarter of a second of black), so
# a free worker soon takes another client's cell.
CHUNK_CHARS = 20_000
# ruff formats a megabyte in about a tenth of a second.
RUFF_CHUNK_CHARS = 400_000


def default_workers() -> int:
    return max(1, min(2, os.cpu_count() or 1))


@dataclass
class LintStats:
    """Counters, for tests and diagnostics (a cache hit leaves `pool_tasks` unchanged)."""

    requests: int = 0
    cells: int = 0
    cache_hits: int = 0
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
    """Formats cells in worker processes, answering what it already knows from its cache."""

    def __init__(
        self,
        workers: int = 0,
        cache_entries: int = 20_000,
        cache_chars: int = 64 * 1024 * 1024,
        timeout: float = 120.0,
        worker_nice: int = 0,
        log: logging.Logger | None = None,
        max_pending_cells: int = 20_000,
        max_pending_cells_per_user: int = 10_000,
    ) -> None:
        self.workers = workers if workers > 0 else default_workers()
        self.log = log or logging.getLogger(__name__)
        self.stats = LintStats()
        self.cache = ResultCache(cache_entries, cache_chars)
        self.scheduler = Scheduler(
            self.workers,
            timeout,
            worker_nice,
            max_pending_cells,
            max_pending_cells_per_user,
            self.log,
        )
        self._valid: OrderedDict[str, None] = OrderedDict()

    @property
    def timeout(self) -> float:
        return self.scheduler.timeout

    @timeout.setter
    def timeout(self, seconds: float) -> None:
        self.scheduler.timeout = seconds

    def prewarm(self) -> None:
        """Start every worker now (they import black and isort), not on the first request."""
        self.scheduler.prewarm()

    async def validate(self, spec: FormatSpec, client: Hashable = None) -> None:
        """Check settings in a worker (building black's Mode and isort's Config there), once
        per distinct settings: the server process never imports black or isort."""
        key = spec.cache_key()
        if key in self._valid:
            self._valid.move_to_end(key)
            return
        self.stats.validations += 1
        await self.scheduler.validate(client if client is not None else object(), spec)
        self._valid[key] = None
        while len(self._valid) > 256:
            self._valid.popitem(last=False)

    async def format(
        self, sources: Sequence[str], spec: FormatSpec, client: Hashable = None
    ) -> list[Outcome]:
        """Outcomes for `sources` in order (see `submit`)."""
        return await self.submit(sources, spec, client)

    def submit(
        self, sources: Sequence[str], spec: FormatSpec, client: Hashable = None
    ) -> asyncio.Future[list[Outcome]]:
        """Start formatting `sources` for `client` (a user; None: this request alone) and
        return the future outcomes, in order; identical sources are formatted once. Admission
        happens here, before anything is awaited: LintBusy past the bounds. An empty request
        starts the workers (a client can warm the service up before it is needed)."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[list[Outcome]] = loop.create_future()
        if not sources:
            self.prewarm()
            answer.set_result([])
            return answer
        base = hashlib.blake2b(spec.cache_key().encode(), digest_size=20)
        results: list[Outcome | None] = [None] * len(sources)
        missing: dict[bytes, list[int]] = {}
        hits = 0
        for index, source in enumerate(sources):
            digest = base.copy()
            digest.update(source.encode("utf-8", "surrogatepass"))
            key = digest.digest()
            hit = self.cache.get(key)
            if hit is not None:
                results[index] = hit
                hits += 1
            else:
                missing.setdefault(key, []).append(index)
        keys = list(missing)
        work = [sources[missing[k][0]] for k in keys]
        if work:
            # ruff pays its start-up per chunk, not per cell: one chunk per worker will do.
            per_worker, chunk_chars = (
                (1, RUFF_CHUNK_CHARS) if spec.tools == RUFF else (CHUNKS_PER_WORKER, CHUNK_CHARS)
            )
            bins = max(self.workers * per_worker, math.ceil(sum(map(len, work)) / chunk_chars))
            chunks = plan_chunks([len(s) for s in work], bins)
            pending = self.scheduler.submit(
                client if client is not None else object(), work, spec, chunks
            )
        self.stats.requests += 1
        self.stats.cells += len(sources)
        self.stats.cache_hits += hits

        def complete(done: asyncio.Future[list[tuple[Outcome, bool]]]) -> None:
            if answer.done():
                return
            if done.cancelled():
                answer.cancel()
                return
            error = done.exception()
            if error is not None:
                answer.set_exception(error)
                return
            for key, (outcome, keep) in zip(keys, done.result(), strict=True):
                if keep:
                    self.cache.put(key, outcome)
                for index in missing[key]:
                    results[index] = outcome
            answer.set_result(
                [r if r is not None else unchanged(sources[i]) for i, r in enumerate(results)]
            )

        if not work:
            complete_now: asyncio.Future[list[tuple[Outcome, bool]]] = loop.create_future()
            complete_now.set_result([])
            complete(complete_now)
            return answer
        pending.add_done_callback(complete)
        # Whoever gives up on the answer gives up on the work: its queued chunks are dropped.
        answer.add_done_callback(lambda a: pending.cancel() if a.cancelled() else None)
        return answer

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop the workers (called from the extension's stop_extension)."""
        await self.scheduler.shutdown(timeout)


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
        help="Start the lint workers (and the check workers) when the server starts, so the "
        "first lint is not slowed by their start-up (about a second: they import black and "
        "isort). Otherwise they start on the first lint request; a request with no cells "
        "starts them without waiting (what a client does when it loads).",
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
        help="Seconds a worker may spend on one cell, counted from when it starts that cell "
        "(never while the cell waits its turn). Past it the cell gets the error 'formatting "
        "timed out after N s', that worker alone is restarted and the cells it had not "
        "reached are formatted by another.",
    )
    max_pending_cells = Int(
        20_000,
        config=True,
        help="Cells waiting or being formatted, over all requests not answered from the cache. "
        "A request that would go past it gets 429 with Retry-After (a request arriving when "
        "nothing is pending is always taken).",
    )
    max_pending_cells_per_user = Int(
        10_000,
        config=True,
        help="The same bound per user, so one user's backlog cannot fill the server's (a "
        "user's first request is always taken while the server has room). Workers take the "
        "users' chunks round-robin.",
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

    formatter = Enum(
        ["project", "black", "ruff"],
        "project",
        config=True,
        help="The formatter when a request does not name its `tools`: 'black' (isort then "
        "black), 'ruff' (ruff's import sorting then ruff format) or 'project': ruff when the "
        "file's nearest ruff configuration (.ruff.toml, ruff.toml, pyproject.toml with "
        "[tool.ruff]) is nearer than any [tool.black] section, else isort + black. Without a "
        "ruff executable, always isort + black.",
    )
    ruff_path = Unicode(
        "",
        config=True,
        help="The ruff executable used for diagnostics (`check`) and the ruff formatter; empty: "
        "the `ruff` package's, else one on PATH. Without one, the server does not offer the "
        "`check` feature and formats with isort + black.",
    )
    check_timeout = Float(
        30.0,
        config=True,
        help="Seconds one check (a ruff run over a notebook) may take before the request gets "
        "the error 'checking timed out after N s' and ruff is stopped.",
    )
    check_concurrency = Int(
        2,
        config=True,
        help="Checks running at once, each in a check worker process of its own (which masks "
        "the cells and runs ruff, off the server's process); more requests wait their turn.",
    )

    def __init__(self, root: str | Path | None = None, **kwargs: Any) -> None:
        """`root`: the directory config files are searched up to (None: none are read)."""
        super().__init__(**kwargs)
        self.finder = ConfigFinder(root)
        self.ruff = find_ruff(self.ruff_path)
        self.checks = CheckPool(self.check_concurrency, self.cache_entries, self.log)
        self.engine = LintEngine(
            workers=self.workers,
            cache_entries=self.cache_entries,
            cache_chars=self.cache_chars,
            timeout=self.timeout,
            worker_nice=self.worker_nice,
            log=self.log,
            max_pending_cells=self.max_pending_cells,
            max_pending_cells_per_user=self.max_pending_cells_per_user,
        )

    def start(self) -> None:
        """With `prewarm`, start the workers now (in the background: nothing waits for them)."""
        if self.prewarm:
            self.warm_up()

    def warm_up(self) -> None:
        """Start the formatting workers, and the check workers when checks are available."""
        self.engine.prewarm()
        if self.ruff is not None:
            self.checks.prewarm()

    async def stop(self) -> None:
        """Stop the workers (server shutdown)."""
        await asyncio.gather(self.engine.shutdown(), self.checks.shutdown())

    async def settings(
        self, path: str | None, tools: Any, options: Any, client: Hashable = None
    ) -> FormatSpec:
        """The FormatSpec for a request; ConfigError (a 400) for bad input, LintBusy (429)
        when new settings must be checked and the workers are too busy."""
        parsed = None if tools is None else parse_tools(tools)
        if parsed == RUFF and self.ruff is None:
            raise ConfigError("formatting with ruff needs ruff, which is not installed here")
        spec = await asyncio.to_thread(self._settings, path, parsed, options)
        await self.engine.validate(spec, client)
        return spec

    def _settings(
        self, path: str | None, tools: tuple[str, ...] | None, options: Any
    ) -> FormatSpec:
        """Config discovery reads files: in a thread. Without `tools` the formatter is chosen
        (`formatter`). A `.py` path is a Python file: its sources are formatted as whole files
        (a `%` line is Python there, not a magic, and the trailing newline is kept)."""
        directory = self.finder.directory_for(path)
        found = self.finder.find(directory)
        wants_ruff = self.ruff is not None and tools in (None, RUFF)
        ruff_config = find_ruff_config(self.finder, directory) if wants_ruff else ""
        if tools is None:
            tools = choose_tools(found, ruff_config, self.formatter, self.ruff is not None)
        spec = build_spec(
            found,
            options,
            tools,
            directory,
            self.verify,
            check=False,
            ruff=self.ruff or "",
            ruff_config=ruff_config,
        )
        is_python_file = path is not None and path.endswith(".py")
        return replace(spec, python_file=True) if is_python_file else spec

    @property
    def can_check(self) -> bool:
        """Whether diagnostics are available (a ruff executable was found)."""
        return self.ruff is not None

    async def check(self, path: str | None, sources: list[str]) -> list[list[Diagnostic]]:
        """Diagnostics per source (see `check_json`)."""
        return [json.loads(text) for text in await self.check_json(path, sources)]

    async def check_json(self, path: str | None, sources: list[str]) -> list[str]:
        """Diagnostics per source (a notebook's cells, or whole files for a `.py` path), each
        as JSON text (a list, what the answer carries), computed in a check worker;
        ConfigError for a bad path or config, CheckError when ruff cannot run."""
        if self.ruff is None:
            raise CheckError("checking needs ruff, which is not installed on the server")
        spec = await asyncio.to_thread(self._check_spec, path, self.ruff)
        return await self.checks.check(sources, spec)

    def _check_spec(self, path: str | None, ruff: str) -> CheckSpec:
        return check_spec(self.finder, path, ruff, self.check_timeout)
