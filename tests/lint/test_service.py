"""The lint engine: balanced chunks, a bounded cache, work off the event loop, workers that
survive dying or stuck cells and shut down cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_sidecar_ext.lint.format import FormatSpec, Outcome
from jupyter_sidecar_ext.lint.service import LintEngine, ResultCache, plan_chunks

SPEC = FormatSpec()
# A real input black needs many seconds for (about half a millisecond a line).
HUGE_LINES = 40_000


def cell(i: int, lines: int = 25) -> str:
    return "".join(f"value_{i}_{j}=compute( {j},'x' , [1,2,3] )\n" for j in range(lines))


@pytest.fixture
def engine() -> Iterator[LintEngine]:
    engine = LintEngine(workers=2, timeout=60)
    yield engine
    asyncio.run(engine.shutdown())


def test_plan_chunks_balances_work() -> None:
    sizes = [100_000] + [10] * 99
    chunks = plan_chunks(sizes, 8)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(100))
    assert chunks[0] == [0]  # the big cell alone, submitted first
    loads = [sum(sizes[i] + 200 for i in chunk) for chunk in chunks[1:]]
    assert max(loads) - min(loads) <= 210
    assert plan_chunks([5, 5], 8) == [[0], [1]]
    assert plan_chunks([], 8) == []


def test_cache_is_bounded_by_entries_and_chars() -> None:
    cache = ResultCache(max_entries=3, max_chars=1000)
    for i in range(5):
        cache.put(bytes([i]), Outcome("x", False))
    assert len(cache) == 3 and cache.get(b"\x00") is None and cache.get(b"\x04") is not None
    cache.put(b"big", Outcome("y" * 900, True))
    assert cache.chars <= 1000 and cache.get(b"big") is not None
    cache.put(b"huge", Outcome("z" * 5000, True))  # larger than the whole cache: not kept
    assert cache.get(b"huge") is None


async def test_formatting_never_blocks_the_loop() -> None:
    engine = LintEngine(workers=2, timeout=60)
    try:
        engine.prewarm()
        await engine.format(["warm = 1"], SPEC)
        sources = [cell(i) for i in range(100)]
        lags: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            while not done.is_set():
                start = time.perf_counter()
                await asyncio.sleep(0.005)
                lags.append(time.perf_counter() - start - 0.005)

        task = asyncio.create_task(ticker())
        start = time.perf_counter()
        outcomes = await engine.format(sources, SPEC)
        elapsed = time.perf_counter() - start
        done.set()
        await task
        assert all(o.changed and o.error is None for o in outcomes)
        # Had the formatting run on the loop, the ticker could not have ticked while it
        # ran (at most once, before or after). How long ticks took is a benchmark matter.
        assert len(lags) >= 5, (len(lags), elapsed)
        hits = engine.stats.cache_hits
        again = await engine.format(sources, SPEC)
        assert again == outcomes and engine.stats.cache_hits == hits + 100
    finally:
        await engine.shutdown()


async def test_cells_of_a_dying_worker_are_formatted_again(engine: LintEngine) -> None:
    engine.prewarm()
    await engine.format(["warm = 1"], SPEC)
    pids = engine.scheduler.worker_pids()
    assert len(pids) == 2
    # Both workers die (killed from outside) before the request arrives: each chunk handed
    # to them comes back with nothing done, and goes out again to a fresh worker.
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    outcomes = await engine.format([cell(i, 400) for i in range(8)], SPEC)
    assert all(o.error is None and o.changed for o in outcomes)
    assert engine.scheduler.stats.restarts == 2
    assert not set(pids) & set(engine.scheduler.worker_pids())


async def test_a_cell_past_the_timeout_fails_alone() -> None:
    """One worker, a cell black needs many seconds for: that cell times out, the worker is
    restarted, and the cell queued behind it is formatted by the new worker."""
    engine = LintEngine(workers=1, timeout=1)
    try:
        outcomes = await engine.format([cell(0, HUGE_LINES), "fine=1"], SPEC)
        assert outcomes[0].error == "formatting timed out after 1 s"
        assert outcomes[1] == Outcome("fine = 1", True, None)
        assert engine.scheduler.stats.restarts == 1
        engine.timeout = 60
        assert (await engine.format(["again=1"], SPEC))[0].source == "again = 1"
    finally:
        await engine.shutdown()


async def test_shutdown_stops_the_workers() -> None:
    engine = LintEngine(workers=2)
    engine.prewarm()
    await engine.format([cell(1), cell(2)], SPEC)
    processes = [w.process for w in engine.scheduler.workers]
    assert all(p is not None and p.is_alive() for p in processes)
    await engine.shutdown()
    assert not any(p.is_alive() for p in processes)
    with pytest.raises(RuntimeError, match="shutting down"):
        await engine.format(["x=1"], SPEC)


def test_workers_do_not_rerun_an_unguarded_launch_script(tmp_path: Path) -> None:
    """A script that starts things at import (no `if __name__ == "__main__"`) runs once:
    spawned workers do not import the server's `__main__`."""
    marker = tmp_path / "runs.txt"
    script = tmp_path / "launch.py"
    script.write_text(
        "import asyncio\n"
        "from jupyter_sidecar_ext.lint.service import LintEngine\n"
        "from jupyter_sidecar_ext.lint.format import FormatSpec\n"
        f"with open({str(marker)!r}, 'a') as f:\n"
        "    f.write('run\\n')\n"
        "async def go():\n"
        "    engine = LintEngine(workers=2)\n"
        "    print((await engine.format(['x=1'], FormatSpec()))[0].source)\n"
        "    await engine.shutdown()\n"
        "asyncio.run(go())\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "x = 1"
    assert marker.read_text() == "run\n"
