"""Check worker processes: where `POST /api/sidecar/lint` with `check` does its work.

Masking, ruff's runs, mapping and encoding hold a GIL for tens of milliseconds on a big
notebook; in the server's threads that GIL is the event loop's, which then stalls every
kernel's traffic. So a check goes to a worker process of its own kind (lint/checkjob.py,
through lint/workers.py's pipe), one check per worker at a time, as many at once as there
are workers (more wait their turn). They are not the formatting workers: a check never waits
behind a user's black run, starts without importing black and isort, and runs ruff at the
server's priority. Each keeps its own prepared-cell cache, and the worker used last takes the
next check, so a re-check after an edit finds its cells there.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from .check import CheckError, CheckSpec
from .workers import Report, Stop, Worker

# A check worker gets this long beyond its two ruff runs before it counts as stuck.
GRACE_SECONDS = 10.0
# A check whose worker dies this many times fails (the second time it is the check's doing).
MAX_DEATHS = 2
SHUTTING_DOWN = "the lint service is shutting down"


class CheckPool:
    """`size` check workers, started on the first check (or `prewarm`)."""

    def __init__(self, size: int, cache_entries: int, log: logging.Logger) -> None:
        self.log = log
        self.workers = [Worker(0, check_cache=cache_entries) for _ in range(max(1, size))]
        self._idle = list(self.workers)  # a stack: the worker used last is taken first
        self._slots = asyncio.Semaphore(len(self.workers))
        self._threads = ThreadPoolExecutor(len(self.workers), thread_name_prefix="lint-check")
        self._busy: set[Future[Report]] = set()
        self.closed = False

    def prewarm(self) -> None:
        """Start every worker now (each imports what masking needs), not on the first check."""
        if self.closed:
            return
        for worker in self.workers:
            try:
                worker.start()
            except Exception as error:  # no memory, no processes left: the check will say
                self.log.error("A lint check worker could not start: %s", error)

    async def check(self, sources: Sequence[str], spec: CheckSpec) -> list[str]:
        """Each source's diagnostics as JSON text (a list), from a check worker. CheckError
        for the request's error (ruff failed or timed out, a worker failed). A worker that
        dies (killed from outside while idle, say) is replaced and the check runs once more."""
        for attempt in range(MAX_DEATHS):
            report = await self._run(sources, spec)
            if report.stop is not Stop.DIED or self.closed or attempt == MAX_DEATHS - 1:
                return self._answer(report, spec)
            self.log.warning(
                "A lint check worker died (exit code %s): checking again", report.exitcode
            )
        raise AssertionError("unreachable")

    async def _run(self, sources: Sequence[str], spec: CheckSpec) -> Report:
        await self._slots.acquire()
        if self.closed:
            self._slots.release()
            raise CheckError(SHUTTING_DOWN)
        worker = self._idle.pop()
        try:
            worker.start()
        except Exception as error:
            self.log.error("A lint check worker could not start: %s", error)
            worker.kill()
            self._give_back(worker)
            return Report(stop=Stop.NO_START)
        loop = asyncio.get_running_loop()
        deadline = 2 * spec.timeout + GRACE_SECONDS
        running = self._threads.submit(worker.run, "check", list(sources), spec, deadline)
        self._busy.add(running)
        # The worker comes back when its run ends, even if this request is cancelled first.
        running.add_done_callback(
            lambda _: loop.call_soon_threadsafe(self._finished, running, worker)
        )
        return await asyncio.wrap_future(running)

    def _finished(self, running: Future[Report], worker: Worker) -> None:
        self._busy.discard(running)
        self._give_back(worker)

    def _give_back(self, worker: Worker) -> None:
        if not self.closed:
            self._idle.append(worker)
        self._slots.release()

    def _answer(self, report: Report, spec: CheckSpec) -> list[str]:
        if report.stop is not None:
            if self.closed:
                raise CheckError(SHUTTING_DOWN)
            self.log.warning("Restarted a lint check worker: it %s", report.stop.value)
            if report.stop is Stop.HUNG:
                raise CheckError(f"checking timed out after {spec.timeout:g} s")
            if report.stop is Stop.NO_START:
                raise CheckError("checking failed: a check worker could not start")
            raise CheckError(
                f"checking failed: the check worker died (exit code {report.exitcode})"
            )
        kind, payload = report.results[0]
        if kind == "error":
            raise CheckError(payload)
        if kind != "ok":
            raise RuntimeError(payload)
        return list(payload)

    def worker_pids(self) -> list[int]:
        return [pid for pid in (w.pid for w in self.workers) if pid is not None]

    async def shutdown(self, timeout: float = 10.0) -> None:
        """Stop every worker; a check still running gets CheckError (shutting down)."""
        self.closed = True
        idle, self._idle = self._idle, []
        for worker in self.workers:
            if worker not in idle:
                worker.interrupt()
        stopping = [asyncio.to_thread(worker.stop) for worker in idle]
        running = [asyncio.wrap_future(future) for future in self._busy]
        try:
            await asyncio.wait_for(
                asyncio.gather(*stopping, *running, return_exceptions=True), timeout
            )
        except asyncio.TimeoutError:
            self.log.warning("Lint check workers did not stop within %g s: killing them", timeout)
            for worker in self.workers:
                worker.interrupt()
        self._threads.shutdown(wait=False)
