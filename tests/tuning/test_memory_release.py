"""MemoryReleaser: coalesced malloc_trim off the event loop, and the server's use of it when
kernels shut down. The trim function is injected, so calls are counted without timing."""

from __future__ import annotations

import asyncio
import logging
import platform
import threading
from typing import Any

import pytest

from jupyter_sidecar_ext.tuning.memory_release import MemoryReleaser, find_malloc_trim

LOG = logging.getLogger("test_memory_release")
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"


class CountingTrim:
    """A trim function that records its calls, their threads and overlaps; with `hold`, each
    call waits until the test sets `go`."""

    def __init__(self, hold: bool = False) -> None:
        self.calls = 0
        self.threads: list[threading.Thread] = []
        self.started = threading.Event()
        self.go = threading.Event()
        self.finished = 0
        self._hold = hold
        self._lock = threading.Lock()
        self._inside = 0
        self.most_at_once = 0

    def __call__(self) -> int:
        with self._lock:
            self.calls += 1
            self._inside += 1
            self.most_at_once = max(self.most_at_once, self._inside)
            self.threads.append(threading.current_thread())
        self.started.set()
        if self._hold:
            self.go.wait(60)
        with self._lock:
            self._inside -= 1
            self.finished += 1
        return 1


async def until_started(trim: CountingTrim) -> None:
    assert await asyncio.to_thread(trim.started.wait, 60), "the trim never started"


# -- the releaser alone --------------------------------------------------------------------------


async def test_a_burst_of_requests_costs_one_trim() -> None:
    trim = CountingTrim()
    releaser = MemoryReleaser(trim, log=LOG, delay=0.0)
    for _ in range(20):  # eight kernels shutting down at once, and then some
        releaser.request()
    assert releaser.pending
    await releaser.wait_idle()
    assert trim.calls == 1
    assert releaser.releases == 1
    assert not releaser.pending


async def test_the_trim_never_runs_on_the_loop_thread() -> None:
    trim = CountingTrim()
    releaser = MemoryReleaser(trim, log=LOG, delay=0.0)
    releaser.request()
    await releaser.wait_idle()
    assert trim.threads
    assert threading.current_thread() not in trim.threads


async def test_requests_during_a_trim_cost_one_more_never_two_at_once() -> None:
    trim = CountingTrim(hold=True)
    releaser = MemoryReleaser(trim, log=LOG, delay=0.0)
    releaser.request()
    await until_started(trim)
    for _ in range(5):  # more kernels went away meanwhile
        releaser.request()
        await asyncio.sleep(0)  # let their timers come due while the first trim runs
    trim.go.set()
    await releaser.wait_idle()
    assert trim.calls == 2
    assert trim.most_at_once == 1


async def test_steady_requests_cannot_postpone_the_release_past_max_wait() -> None:
    trim = CountingTrim()
    releaser = MemoryReleaser(trim, log=LOG, delay=3600.0, max_wait=0.0)
    releaser.request()
    releaser.request()
    await releaser.wait_idle()  # would take an hour if only the last request counted
    assert trim.calls == 1


async def test_stop_cancels_a_pending_release() -> None:
    trim = CountingTrim()
    releaser = MemoryReleaser(trim, log=LOG, delay=3600.0, max_wait=3600.0)
    releaser.request()
    assert releaser.pending
    await releaser.stop()
    assert not releaser.pending
    releaser.request()  # after stop: ignored
    assert not releaser.pending
    assert trim.calls == 0


async def test_stop_waits_for_a_running_trim() -> None:
    trim = CountingTrim(hold=True)
    releaser = MemoryReleaser(trim, log=LOG, delay=0.0)
    releaser.request()
    await until_started(trim)
    stopping = asyncio.ensure_future(releaser.stop())
    trim.go.set()
    await stopping
    assert trim.finished == 1
    assert not releaser.pending


async def test_a_failing_trim_is_logged_and_the_next_request_still_runs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = []

    def failing() -> int:
        calls.append(1)
        raise OSError("no")

    releaser = MemoryReleaser(failing, log=LOG, delay=0.0)
    releaser.request()
    await releaser.wait_idle()
    releaser.request()
    await releaser.wait_idle()
    assert len(calls) == 2
    assert "releasing memory failed" in caplog.text


MIB = 2**20


class Resident:
    """A stand-in for the process's RSS that the test sets."""

    def __init__(self, mib: int) -> None:
        self.value = mib * MIB

    def __call__(self) -> int:
        return self.value


async def test_an_execution_asks_for_a_release_only_once_the_server_grew() -> None:
    trim, rss = CountingTrim(), Resident(100)
    releaser = MemoryReleaser(trim, log=LOG, delay=0.0, growth=64 * MIB, resident=rss)
    # (RSS in MiB at an execution's end, whether it asks): the first sets the baseline, a
    # smaller one lowers it; after a release, what the trim left (160) is in use: growth
    # counts from there
    rounds = [
        [(100, False), (90, False), (150, False), (160, True)],
        [(160, False), (220, False), (230, True)],
    ]
    for calls, steps in enumerate(rounds, start=1):
        for mib, asks in steps:
            rss.value = mib * MIB
            releaser.check_growth()
            assert releaser.pending == asks, (mib, asks)
        await releaser.wait_idle()
        assert trim.calls == calls


async def test_a_burst_of_executions_checks_the_growth_once_a_moment_later() -> None:
    reads = 0
    read = asyncio.Event()

    def resident() -> int:
        nonlocal reads
        reads += 1
        read.set()
        return 100 * MIB

    releaser = MemoryReleaser(CountingTrim(), log=LOG, resident=resident)
    for _ in range(50):
        releaser.after_execution()
    assert reads == 0  # nothing on the replies' path
    await asyncio.wait_for(read.wait(), 10)
    assert reads == 1  # one check for the burst
    releaser.after_execution()
    check = releaser._check
    await releaser.stop()
    assert check is not None and check.cancelled()


async def test_without_a_trim_function_requests_do_nothing() -> None:
    releaser = MemoryReleaser(None, log=LOG)
    releaser.request()
    assert not releaser.pending
    assert MemoryReleaser.for_this_process(log=LOG, enabled=False).trim is None


def test_another_preloaded_allocator_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2")
    assert find_malloc_trim(LOG) is None


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
async def test_the_real_malloc_trim_runs_without_error(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("LD_PRELOAD", raising=False)
    trim = find_malloc_trim(LOG)
    assert trim is not None
    assert trim() in (0, 1)
    caplog.set_level(logging.DEBUG, logger=LOG.name)
    releaser = MemoryReleaser.for_this_process(log=LOG, delay=0.0)
    releaser.request()
    await releaser.wait_idle()
    assert releaser.releases == 1
    assert "malloc_trim(0) returned" in caplog.text
    assert "failed" not in caplog.text


# -- through the server, with real kernels ---------------------------------------------------------


def sidecar_app(jp_serverapp: Any) -> Any:
    return next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_sidecar_ext"]))


async def shut_down(jp_fetch: Any, sc_registry: Any, sc_wait_until: Any, kernel_id: str) -> None:
    """Shut a kernel down through REST and wait until its sidecar is retired."""
    await sc_wait_until(lambda: sc_registry.get(kernel_id) is not None, what="its sidecar")
    sidecar = sc_registry.get(kernel_id)
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    await sc_wait_until(lambda: not sidecar.alive, what="the sidecar to retire")


async def test_shutting_a_kernel_down_releases_memory_once(
    jp_serverapp: Any,
    jp_fetch: Any,
    sc_registry: Any,
    sc_start_kernel: Any,
    sc_wait_until: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    releaser = sidecar_app(jp_serverapp).memory_release
    trim = CountingTrim()
    monkeypatch.setattr(releaser, "trim", trim)  # this app's releaser only
    kernel_id = await sc_start_kernel()
    assert trim.calls == 0
    await shut_down(jp_fetch, sc_registry, sc_wait_until, kernel_id)
    assert releaser.pending
    await asyncio.wait_for(releaser.wait_idle(), 60)
    assert trim.calls == 1
    assert threading.current_thread() not in trim.threads


@pytest.mark.parametrize(
    "jp_server_config", [{"MemoryReleaser": {"enabled": False}}], indirect=True
)
async def test_release_memory_off_releases_nothing(
    jp_serverapp: Any, jp_fetch: Any, sc_registry: Any, sc_start_kernel: Any, sc_wait_until: Any
) -> None:
    releaser = sidecar_app(jp_serverapp).memory_release
    assert releaser.trim is None
    kernel_id = await sc_start_kernel()
    await shut_down(jp_fetch, sc_registry, sc_wait_until, kernel_id)
    assert not releaser.pending
    assert releaser.releases == 0


async def test_an_execution_after_the_server_grew_releases_memory(
    jp_serverapp: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_wait_until: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    releaser = sidecar_app(jp_serverapp).memory_release
    trim, rss = CountingTrim(), Resident(100)
    monkeypatch.setattr(releaser, "trim", trim)  # this app's releaser only
    monkeypatch.setattr(releaser, "resident", rss)
    client = await sc_connect(await sc_start_kernel(), "v1")
    await client.collect(await client.execute("x = 1"))
    await sc_wait_until(lambda: releaser._baseline is not None, what="the growth check")
    assert not releaser.pending
    rss.value = 500 * MIB  # a burst of output grew the server
    await client.collect(await client.execute("print('after the burst')"))
    await sc_wait_until(lambda: releaser.pending, what="a release asked for")
    await asyncio.wait_for(releaser.wait_idle(), 60)
    assert trim.calls == 1
