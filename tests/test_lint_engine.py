"""The lint engine: balanced chunks, a bounded cache, work off the event loop, and a pool
that survives dying or stuck workers and shuts down cleanly."""

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


async def test_a_dying_worker_costs_only_its_cells(engine: LintEngine) -> None:
    await engine.format(["warm = 1"], SPEC)
    pool = engine._pool
    assert pool is not None
    # The workers die as the request arrives. Whether the pool notices before the cells are
    # handed over (they then go to a fresh pool) or after (those cells fail), the request
    # answers, nothing else is lost, and exactly one new pool is started.
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    outcomes = await engine.format([cell(i, 400) for i in range(8)], SPEC)
    assert all(
        (o.error is None and o.changed) or (o.error or "").startswith("formatter failed")
        for o in outcomes
    )
    assert engine.stats.pool_restarts == 1
    # nothing cached from the failure, and the next request gets a fresh pool
    retry = await engine.format([cell(0, 400)], SPEC)
    assert retry[0].error is None and retry[0].changed


async def test_a_stuck_request_times_out_and_restarts_the_pool() -> None:
    engine = LintEngine(workers=1, timeout=0.5)
    try:
        outcomes = await engine.format([cell(0, 3000), "fine=1"], SPEC)
        assert all(o.error and "timed out after 0.5 s" in o.error for o in outcomes)
        assert engine.stats.pool_restarts == 1 and engine._pool is None
        engine.timeout = 60
        assert (await engine.format(["fine=1"], SPEC))[0].source == "fine = 1"
    finally:
        await engine.shutdown()


async def test_shutdown_stops_the_workers() -> None:
    engine = LintEngine(workers=2)
    engine.prewarm()
    await engine.format([cell(1), cell(2)], SPEC)
    pool = engine._pool
    assert pool is not None
    processes = list(pool._processes.values())
    assert processes and all(p.is_alive() for p in processes)
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
    root = Path(__file__).resolve().parent.parent
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
