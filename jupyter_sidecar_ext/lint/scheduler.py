"""Who formats next: bounded, fair hand-out of lint work to the worker processes.

Admission: cells waiting or running are counted, in all and per client (the user; a request
of its own when there is none). A request that would go past either bound is refused with
`LintBusy` (the handler's 429) instead of queueing behind minutes of work. Fairness: each
client has a FIFO of chunks and a free worker takes the next chunk round-robin over clients,
so one client's backlog delays another's cell by at most one chunk per worker. Failures stay
with their cells: a cell past the timeout (counted from when a worker starts it) gets the
error, the cells its worker had not reached go out again, and nobody else's are touched.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import OrderedDict, deque
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .config import ConfigError
from .format import FormatSpec, Outcome, unchanged
from .workers import Report, Stop, Worker

# A worker dying on the same cell twice is the cell's doing (it is reported, not re-run).
MAX_DEATHS = 2
SHUTTING_DOWN = "the lint service is shutting down"


class LintBusy(Exception):
    """Too much lint work is pending: try again in `retry_after` seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class Batch:
    """The cells of one request that the cache could not answer."""

    client: Hashable
    sources: list[str]
    spec: FormatSpec
    done: asyncio.Future[list[tuple[Outcome, bool]]]
    results: list[tuple[Outcome, bool] | None] = field(default_factory=list)
    left: int = 0
    deaths: dict[int, int] = field(default_factory=dict)

    def settle(self, index: int, outcome: Outcome, cacheable: bool) -> None:
        if self.results[index] is None:
            self.results[index] = (outcome, cacheable)
            self.left -= 1
        if self.left == 0 and not self.done.done():
            self.done.set_result([r for r in self.results if r is not None])


@dataclass
class Job:
    """One chunk: cells of one batch (format), or a settings check (validate)."""

    client: Hashable
    kind: str
    spec: FormatSpec
    batch: Batch | None = None
    indexes: list[int] = field(default_factory=list)
    checked: asyncio.Future[str | None] | None = None  # validate: the error, if any

    @property
    def cells(self) -> int:
        return len(self.indexes) if self.kind == "format" else 1

    @property
    def abandoned(self) -> bool:
        future = self.batch.done if self.batch is not None else self.checked
        return future is not None and future.done()


@dataclass
class SchedulerStats:
    """Counters, for tests and diagnostics: chunks and settings checks handed to workers
    (`jobs`), cells in those chunks (`cells`), and what went wrong."""

    jobs: int = 0
    cells: int = 0
    restarts: int = 0
    rerun_cells: int = 0
    timed_out: int = 0
    rejected: int = 0


class Scheduler:
    """Hands chunks to `workers` processes, one chunk per worker at a time."""

    def __init__(
        self,
        workers: int,
        timeout: float,
        nice: int,
        max_pending: int,
        max_pending_per_client: int,
        log: logging.Logger,
    ) -> None:
        self.timeout = timeout
        self.max_pending = max_pending
        self.max_pending_per_client = max_pending_per_client
        self.log = log
        self.stats = SchedulerStats()
        self.workers = [Worker(nice) for _ in range(workers)]
        self._idle = list(self.workers)
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="lint-worker")
        self._queues: OrderedDict[Hashable, deque[Job]] = OrderedDict()
        self._pending: dict[Hashable, int] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._seconds_per_cell = 0.01  # measured as chunks finish; for Retry-After
        self.closed = False

    @property
    def pending(self) -> int:
        """Cells admitted and not finished (waiting or on a worker)."""
        return sum(self._pending.values())

    def prewarm(self) -> None:
        if self.closed:
            return
        for worker in self.workers:
            worker.start()

    def submit(
        self, client: Hashable, sources: list[str], spec: FormatSpec, chunks: list[list[int]]
    ) -> asyncio.Future[list[tuple[Outcome, bool]]]:
        """Queue a request's cells (in `chunks` of indexes); (outcome, cacheable) per cell.
        Raises LintBusy past the bounds, RuntimeError once shutting down."""
        self._admit(client, len(sources))
        done: asyncio.Future[list[tuple[Outcome, bool]]] = (
            asyncio.get_running_loop().create_future()
        )
        batch = Batch(client, sources, spec, done, [None] * len(sources), len(sources))
        for chunk in chunks:
            self._enqueue(Job(client, "format", spec, batch, chunk))
        done.add_done_callback(lambda _: self._drop(batch) if done.cancelled() else None)
        self._dispatch()
        return done

    def _drop(self, batch: Batch) -> None:
        """A request given up on: its chunks not yet handed out leave the queue now."""
        queue = self._queues.get(batch.client)
        if queue is None:
            return
        dropped = [job for job in queue if job.batch is batch]
        for job in dropped:
            queue.remove(job)
            self._release(job.client, job.cells)
        if not queue:
            del self._queues[batch.client]

    async def validate(self, client: Hashable, spec: FormatSpec) -> None:
        """Check settings in a worker (black's Mode, isort's Config): ConfigError if bad."""
        self._admit(client, 1)
        checked: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._enqueue(Job(client, "validate", spec, checked=checked))
        self._dispatch()
        error = await checked
        if error is not None:
            raise ConfigError(error)

    def _admit(self, client: Hashable, cells: int) -> None:
        if self.closed:
            raise RuntimeError(SHUTTING_DOWN)
        total, own = self.pending, self._pending.get(client, 0)
        # An empty queue takes any request, so a request of max_cells is never refused forever.
        over_total = total > 0 and total + cells > self.max_pending
        over_own = own > 0 and own + cells > self.max_pending_per_client
        if over_total or over_own:
            self.stats.rejected += 1
            excess = (total + cells - self.max_pending) if over_total else (own + cells)
            wait = excess * self._seconds_per_cell / max(1, len(self.workers))
            retry_after = max(1, min(60, math.ceil(wait)))
            whose = "on this server" if over_total else "of yours"
            raise LintBusy(
                f"Lint is busy: {total if over_total else own} cells {whose} are waiting "
                "or being formatted; try again later",
                retry_after,
            )
        self._pending[client] = own + cells

    def _release(self, client: Hashable, cells: int) -> None:
        left = self._pending.get(client, 0) - cells
        if left > 0:
            self._pending[client] = left
        else:
            self._pending.pop(client, None)

    def _enqueue(self, job: Job, first: bool = False) -> None:
        queue = self._queues.get(job.client)
        if queue is None:
            queue = self._queues[job.client] = deque()
        if first:
            queue.appendleft(job)
        else:
            queue.append(job)

    def _next_job(self) -> Job | None:
        """The next client's next chunk, round-robin; chunks of abandoned requests go."""
        while self._queues:
            client, queue = next(iter(self._queues.items()))
            job = queue.popleft()
            if queue:
                self._queues.move_to_end(client)
            else:
                del self._queues[client]
            if not job.abandoned:
                return job
            self._release(job.client, job.cells)
        return None

    def _dispatch(self) -> None:
        while self._idle and not self.closed:
            job = self._next_job()
            if job is None:
                return
            worker = self._idle.pop()
            task = asyncio.create_task(self._run(worker, job))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run(self, worker: Worker, job: Job) -> None:
        self.stats.jobs += 1
        self.stats.cells += len(job.indexes)
        sources = [] if job.batch is None else [job.batch.sources[i] for i in job.indexes]
        if self.closed:  # shut down between the hand-out and this task's start
            self._finish(job, Report())
            return
        try:
            worker.start()
            report = await asyncio.get_running_loop().run_in_executor(
                self._threads, worker.run, job.kind, sources, job.spec, self.timeout
            )
        except Exception as error:  # spawning failed (no memory, no processes left...)
            self.log.error("A lint worker could not start: %s", error)
            worker.kill()
            report = Report(stop=Stop.NO_START)
        if report.results and report.stop is None:
            per_cell = report.seconds / len(report.results)
            self._seconds_per_cell = 0.8 * self._seconds_per_cell + 0.2 * per_cell
        self._finish(job, report)
        if not self.closed:
            self._idle.append(worker)
            self._dispatch()

    def _finish(self, job: Job, report: Report) -> None:
        """Settle what the worker answered; decide the fate of the rest of the chunk."""
        if report.stop is not None and not self.closed:
            self.stats.restarts += 1
            self.log.warning(
                "Restarted a lint worker: %s",
                f"a cell took over {self.timeout:g} s"
                if report.stop is Stop.HUNG
                else f"it {report.stop.value} (exit code {report.exitcode})",
            )
        if job.checked is not None:
            self._release(job.client, 1)
            if report.results:
                if not job.checked.done():
                    job.checked.set_result(report.results[0])
            else:
                _fail(job.checked, SHUTTING_DOWN if self.closed else "the lint workers failed")
            return
        batch = job.batch
        assert batch is not None
        reached = job.indexes[: len(report.results)]
        for index, outcome in zip(reached, report.results, strict=True):
            batch.settle(index, outcome, True)
        self._release(job.client, len(reached))
        rest = job.indexes[len(reached) :]
        if not rest:
            return
        if self.closed:
            self._settle_all(batch, rest, f"cancelled: {SHUTTING_DOWN}")
            return
        current, after = rest[0], rest[1:]
        if report.stop is Stop.HUNG:
            self.stats.timed_out += 1
            self._settle_all(batch, [current], f"formatting timed out after {self.timeout:g} s")
            rest = after
        elif report.stop is Stop.NO_START:
            self._settle_all(batch, rest, "formatter failed: a lint worker could not start")
            return
        elif report.stop is Stop.DIED:
            batch.deaths[current] = batch.deaths.get(current, 0) + 1
            if batch.deaths[current] >= MAX_DEATHS:
                message = (
                    "formatter failed: the worker process died while formatting this cell "
                    f"(exit code {report.exitcode}), twice"
                )
                self._settle_all(batch, [current], message)
                rest = after
        if rest:  # cells the worker never reached: another worker formats them
            self.stats.rerun_cells += len(rest)
            self._enqueue(Job(job.client, "format", job.spec, batch, rest), first=True)

    def _settle_all(self, batch: Batch, indexes: list[int], error: str) -> None:
        for index in indexes:
            batch.settle(index, unchanged(batch.sources[index], error), False)
        self._release(batch.client, len(indexes))

    def worker_pids(self) -> list[int]:
        return [pid for pid in (w.pid for w in self.workers) if pid is not None]

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every worker; what is still queued is answered as cancelled."""
        self.closed = True
        for queue in self._queues.values():
            for job in queue:
                if job.batch is not None:
                    self._settle_all(job.batch, job.indexes, f"cancelled: {SHUTTING_DOWN}")
                elif job.checked is not None:
                    _fail(job.checked, SHUTTING_DOWN)
        self._queues.clear()
        for worker in self.workers:
            if worker not in self._idle:
                worker.interrupt()
        idle, self._idle = self._idle, []
        stopping = [asyncio.to_thread(worker.stop) for worker in idle]
        try:
            await asyncio.wait_for(
                asyncio.gather(*stopping, *self._running, return_exceptions=True), timeout
            )
        except asyncio.TimeoutError:
            self.log.warning("Lint workers did not stop within %g s: killing them", timeout)
            for worker in self.workers:
                worker.interrupt()
        self._threads.shutdown(wait=False)


def _fail(future: asyncio.Future[str | None], message: str) -> None:
    if not future.done():
        future.set_exception(RuntimeError(message))
