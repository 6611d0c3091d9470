"""Lint under overload, with real worker processes: a hung cell costs only itself, time spent
waiting in the queue is not counted against a cell, users are served round-robin, and
pending work is bounded (LintBusy, the handler's 429)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator

import pytest

from jupyter_sidecar_ext.lint.format import FormatSpec, Outcome
from jupyter_sidecar_ext.lint.scheduler import LintBusy
from jupyter_sidecar_ext.lint.service import LintEngine

SPEC = FormatSpec()
# A real input black needs many seconds for (about half a millisecond a line): it stands for
# a cell that hangs the formatter.
HUGE_LINES = 40_000


def cell(name: str, lines: int = 3) -> str:
    return "".join(f"{name}_{j}=compute( {j},'x' , [1,2,3] )\n" for j in range(lines))


def formatted(source: str) -> str:
    return source.replace("=compute( ", " = compute(").replace(
        ",'x' , [1,2,3] )", ', "x", [1, 2, 3])'
    )


def note(finished: list[str], name: str, _: object) -> None:
    finished.append(name)


def note_timeouts(engine: LintEngine, seen: dict[int, int], request: int, _: object) -> None:
    """When a request's answer is ready: how many cells had timed out by then."""
    seen[request] = engine.scheduler.stats.timed_out


@contextlib.asynccontextmanager
async def two_workers() -> AsyncIterator[LintEngine]:
    engine = LintEngine(workers=2, timeout=2, max_pending_cells=1000)
    try:
        yield engine
    finally:
        await engine.shutdown()


async def test_a_hung_cell_never_cancels_other_requests() -> None:
    """The cascade of issue 18 at a small scale: 12 concurrent requests; the first two carry
    a cell that outlasts the timeout and take both workers, so the other ten wait in the queue
    for longer than the timeout. Only the two cells fail, each saying why; every other cell,
    including the other cells of the two requests, is formatted."""
    async with two_workers() as engine:
        requests = []
        for r in range(12):
            sources = [cell(f"r{r}_c{c}") for c in range(10)]
            if r < 2:
                sources.insert(3, cell(f"huge{r}", HUGE_LINES))
            requests.append(sources)
        timeouts_seen: dict[int, int] = {}
        answers_pending = []
        for r, sources in enumerate(requests):
            answer = engine.submit(sources, SPEC, client=f"user{r}")
            answer.add_done_callback(functools.partial(note_timeouts, engine, timeouts_seen, r))
            answers_pending.append(answer)
        answers = await asyncio.gather(*answers_pending)
        for r, (sources, outcomes) in enumerate(zip(requests, answers, strict=True)):
            for index, (source, outcome) in enumerate(zip(sources, outcomes, strict=True)):
                if r < 2 and index == 3:
                    assert outcome == Outcome(source, False, "formatting timed out after 2 s")
                else:
                    assert outcome == Outcome(formatted(source).rstrip("\n"), True, None), (
                        r,
                        index,
                    )
        stats = engine.scheduler.stats
        assert stats.restarts == 2 and stats.timed_out == 2
        # Both workers were on the two huge cells before any of requests 2..11 started: those
        # waited until a timeout freed a worker, longer than the timeout, and were not failed.
        assert all(timeouts_seen[r] >= 1 for r in range(2, 12)), timeouts_seen
        assert engine.scheduler.pending == 0


async def test_the_cells_a_hung_worker_had_not_reached_are_formatted_again() -> None:
    """One chunk of three cells, the middle one hangs: the first was answered before, the
    third is handed to the other worker; only the middle one fails."""
    async with two_workers() as engine:
        sources = [cell("before"), cell("huge", HUGE_LINES), cell("after")]
        done = engine.scheduler.submit("A", sources, SPEC, [[0, 1, 2]])
        (first, _), (middle, cached), (third, _) = await done
        assert first.error is None and third.error is None and third.changed
        assert middle.error == "formatting timed out after 2 s" and not cached
        assert engine.scheduler.stats.rerun_cells == 1


async def test_users_are_served_round_robin() -> None:
    """User A's backlog (ten requests of four chunks each) is queued before user B's one
    cell; with one worker, B's cell is handed out as soon as A's current chunk and the one
    after it are done, so B's answer comes first, not after A's backlog."""
    engine = LintEngine(workers=1, timeout=60)
    finished: list[str] = []
    try:
        answers = []
        for r in range(10):
            answer = engine.submit([cell(f"a{r}_{c}") for c in range(8)], SPEC, client="A")
            answer.add_done_callback(functools.partial(note, finished, f"A{r}"))
            answers.append(answer)
        mine = engine.submit([cell("b")], SPEC, client="B")
        mine.add_done_callback(functools.partial(note, finished, "B"))
        await asyncio.gather(*answers, mine)
        assert finished[0] == "B", finished
        assert finished[1:] == [f"A{r}" for r in range(10)]
    finally:
        await engine.shutdown()


async def test_one_request_per_user_is_a_client_of_its_own() -> None:
    """Without a user, each request is served as a client of its own (the fallback)."""
    engine = LintEngine(workers=1, timeout=60)
    finished: list[str] = []
    try:
        first = engine.submit([cell(f"a{c}") for c in range(8)], SPEC)
        first.add_done_callback(functools.partial(note, finished, "first"))
        second = engine.submit([cell("b")], SPEC)
        second.add_done_callback(functools.partial(note, finished, "second"))
        await asyncio.gather(first, second)
        assert finished == ["second", "first"]
    finally:
        await engine.shutdown()


async def test_pending_work_is_bounded_overall_and_per_user() -> None:
    engine = LintEngine(workers=1, timeout=2, max_pending_cells=20, max_pending_cells_per_user=8)
    try:
        await engine.format(["cached = 1"], SPEC)
        handed_out = engine.scheduler.stats.cells
        # the huge cell holds the only worker until it times out: nothing else can finish
        engine.submit([cell("huge", HUGE_LINES)], SPEC, client="A")
        a = engine.submit([cell(f"a{c}") for c in range(7)], SPEC, client="A")  # A: 8 pending
        with pytest.raises(LintBusy) as refused:
            engine.submit([cell("a8")], SPEC, client="A")
        assert refused.value.retry_after >= 1
        assert "8 cells of yours are waiting or being formatted" in str(refused.value)
        # another user still has room, up to the bound of the whole server
        b = engine.submit([cell(f"b{c}") for c in range(8)], SPEC, client="B")
        c = engine.submit([cell(f"c{c}") for c in range(4)], SPEC, client="C")
        with pytest.raises(LintBusy, match="20 cells on this server"):
            engine.submit([cell("d")], SPEC, client="D")
        assert engine.scheduler.stats.rejected == 2
        assert engine.scheduler.pending == 20
        # cells the cache answers cost nothing: they are always taken
        assert await engine.submit(["cached = 1"], SPEC, client="D") == [
            Outcome("cached = 1", False, None)
        ]
        # a request given up on leaves the queue: its cells are never handed to a worker
        b.cancel()
        await asyncio.gather(a, c)
        assert engine.scheduler.stats.cells == handed_out + 1 + 7 + 4
        assert engine.scheduler.pending == 0
    finally:
        await engine.shutdown()


async def test_a_request_over_the_bound_is_taken_when_nothing_is_pending() -> None:
    engine = LintEngine(workers=1, timeout=60, max_pending_cells=2, max_pending_cells_per_user=1)
    try:
        outcomes = await engine.format([cell(f"x{c}") for c in range(5)], SPEC, client="A")
        assert all(o.error is None for o in outcomes)
        assert engine.scheduler.pending == 0
    finally:
        await engine.shutdown()


async def test_shutdown_answers_queued_cells_as_cancelled() -> None:
    engine = LintEngine(workers=1, timeout=60)
    first = engine.submit([cell("huge", HUGE_LINES)], SPEC, client="A")
    queued = engine.submit([cell("b")], SPEC, client="B")
    await engine.shutdown()
    for answer in (first, queued):
        (outcome,) = await answer
        assert outcome.error == "cancelled: the lint service is shutting down"
