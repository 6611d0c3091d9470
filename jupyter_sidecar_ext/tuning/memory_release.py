"""Give the memory a burst freed back to the OS: once its kernels are gone, or once it grew.

glibc keeps freed heap pages for reuse, so after a burst of kernel output the server's RSS
would stay at the peak although nothing holds that memory; `malloc_trim(0)` through ctypes
gives it back (README "Performance" has the figures and why this remedy). A release is asked
for when kernels shut down, and after an execution once RSS grew by `growth` since the last
one. The trim runs in a worker thread, one at a time, requests coalesced, so many kernels
shutting down cost one trim. Without glibc's `malloc_trim`, or under another allocator, it
does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from traitlets import Bool, Float, Int
from traitlets.config import LoggingConfigurable

# Gives memory back to the OS; returns what malloc_trim returns (1: something was released).
TrimFunction = Callable[[], int]

# Preloaded allocators that replace glibc's malloc: its malloc_trim would walk an unused
# heap at best (Dask's page warns of crashes).
OTHER_ALLOCATORS = ("jemalloc", "tcmalloc", "mimalloc")

DEFAULT_DELAY = 1.0  # seconds after the last request
DEFAULT_MAX_WAIT = 10.0  # seconds after the first pending request, however many follow
DEFAULT_GROWTH = 64 * 2**20  # RSS growth since the last release that makes an execution ask
# Seconds from an execution's end to the growth check: off the kernel->client path (the
# execute_reply and idle of a tiny cell reach the client first), once for a burst of cells.
CHECK_AFTER = 0.05

# The process's resident set size in bytes, or None where it cannot be read.
ResidentSize = Callable[[], int | None]


def resident_bytes() -> int | None:
    """This process's RSS from /proc/self/statm (Linux; None elsewhere)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def find_malloc_trim(log: logging.Logger) -> TrimFunction | None:
    """glibc's `malloc_trim(0)` in this process, or None where there is none."""
    preloaded = os.environ.get("LD_PRELOAD", "")
    if any(name in preloaded for name in OTHER_ALLOCATORS):
        log.debug("another allocator is preloaded; no memory release")
        return None
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim  # the C library already loaded
    except (OSError, AttributeError, TypeError):
        log.debug("no malloc_trim in this C library; no memory release")
        return None
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim.restype = ctypes.c_int

    def trim() -> int:
        return int(malloc_trim(0))

    return trim


class MemoryReleaser(LoggingConfigurable):
    """Runs `trim` in a worker thread `delay` seconds after the last `request` (at most
    `max_wait` after the first pending one), never two at once (`c.MemoryReleaser.*`)."""

    enabled = Bool(
        True,
        config=True,
        help="Give the memory freed after a burst of output back to the OS when kernels shut "
        "down, or when an execution finishes after the server grew by 64 MiB (glibc's "
        "malloc_trim(0), in a worker thread, once a moment after the last such event). "
        "Without it the server stays at the burst's peak RSS: glibc keeps freed memory. "
        "Nothing happens without glibc.",
    )
    delay = Float(DEFAULT_DELAY, help="Seconds after the last request before a release.")
    max_wait = Float(
        DEFAULT_MAX_WAIT, help="Seconds after the first pending request, however many follow."
    )
    growth = Int(
        DEFAULT_GROWTH, help="RSS growth since the last release that makes an execution ask."
    )

    def __init__(
        self,
        trim: TrimFunction | None = None,
        resident: ResidentSize = resident_bytes,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.trim = trim  # None: requests are ignored
        self.resident = resident
        self._baseline: int | None = None  # RSS after the last release (or the lowest seen)
        self.releases = 0  # trims run so far
        self._timer: asyncio.TimerHandle | None = None
        self._first_request: float | None = None  # loop time of the first pending request
        self._running: asyncio.Future[None] | None = None
        self._again = False  # a request became due while a trim was running
        self._stopped = False
        self._check: asyncio.TimerHandle | None = None  # the growth check after executions
        self._idle = asyncio.Event()  # nothing pending, nothing running
        self._idle.set()

    @classmethod
    def for_this_process(cls, **kwargs: Any) -> MemoryReleaser:
        """A releaser with this process's malloc_trim (looked up once) if `enabled`, else
        a no-op one."""
        releaser = cls(**kwargs)
        if releaser.enabled:
            releaser.trim = find_malloc_trim(releaser.log)
        return releaser

    @property
    def pending(self) -> bool:
        """Whether a release is waiting for its moment or running."""
        return not self._idle.is_set()

    def request(self) -> None:
        """Memory was probably freed (a kernel went away): release it a moment from now."""
        if self.trim is None or self._stopped:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop, nothing to schedule on (never the case in a server)
            return
        now = loop.time()
        if self._first_request is None:
            self._first_request = now
        if self._timer is not None:
            self._timer.cancel()
        due = min(now + self.delay, self._first_request + self.max_wait)
        self._timer = loop.call_at(due, self._due)
        self._idle.clear()

    def after_execution(self, *_: object) -> None:
        """An execution finished (a registry execution listener): check the server's
        growth a moment later (reading RSS costs about as much as the rest of the server's
        work on a tiny cell's reply)."""
        if self.trim is None or self._stopped or self._check is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop: check now
            self.check_growth()
            return
        self._check = loop.call_later(CHECK_AFTER, self.check_growth)

    def check_growth(self) -> None:
        """Ask for a release if the server grew by `growth` since the last one."""
        self._check = None
        if self.trim is None or self._stopped:
            return
        rss = self.resident()
        if rss is None:
            return
        if self._baseline is None or rss < self._baseline:
            self._baseline = rss
        elif rss - self._baseline >= self.growth and not self.pending:
            self.request()

    def _due(self) -> None:
        self._timer = None
        self._first_request = None
        if self._running is not None:
            self._again = True  # once the running one is done
        else:
            self._start()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._running = loop.run_in_executor(None, self._trim_in_thread)
        self._running.add_done_callback(self._finished)

    def _trim_in_thread(self) -> None:
        trim = self.trim
        if trim is None:
            return
        started = time.perf_counter()
        try:
            released = trim()
        except Exception:
            self.log.exception("releasing memory failed")
            return
        self.log.debug(
            "malloc_trim(0) returned %s in %.1f ms",
            released,
            (time.perf_counter() - started) * 1000,
        )

    def _finished(self, _: asyncio.Future[None]) -> None:
        self._running = None
        self.releases += 1
        self._baseline = self.resident()  # growth counts from here: no trims for memory in use
        if self._again and not self._stopped:
            self._again = False
            self._start()
        elif self._timer is None:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Until no release is pending or running."""
        await self._idle.wait()

    async def stop(self) -> None:
        """Cancel a pending release and wait for a running one (server shutdown)."""
        self._stopped = True
        self._again = False
        self._first_request = None
        for handle in (self._timer, self._check):
            if handle is not None:
                handle.cancel()
        self._timer = self._check = None
        if self._running is not None:
            await asyncio.wait({self._running})
        self._idle.set()
