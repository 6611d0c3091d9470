"""CPU spent by the processes behind a browser round trip, for benchmarks whose wall times are
too noisy on a shared machine: CPU time per run moves much less with other load than wall time.

Groups: the jupyter server (its own process), its kernels (the server's child processes),
Chromium's renderers and the rest of Chromium (browser process, GPU, network and other
utilities: this process's descendants that are not the server's), each read from the
process-wide CPU clock (`clock_gettime` on the clock id of a pid: nanoseconds, user + system,
every thread, the ones that already exited included; /proc's utime+stime ticks are 10 ms,
too coarse for a few ms per run), and the page's main thread as Chromium itself accounts it
(CDP `Performance.getMetrics`: TaskDuration, and ScriptDuration, Layout + RecalcStyle inside it).
"""

from __future__ import annotations

import os
import time

import psutil
from playwright.async_api import CDPSession, Page
from playwright.async_api import Error as PlaywrightError

GROUPS = ("server", "kernel", "renderer", "chromium")
PAGE_METRICS = {"page task": "TaskDuration", "page script": "ScriptDuration"}
PAGE_LAYOUT = ("LayoutDuration", "RecalcStyleDuration")
FIGURES = (*GROUPS, *PAGE_METRICS, "page layout")


def process_cpu_seconds(pid: int) -> float:
    """The process's CPU time (all threads, exited ones too), 0 when it is gone."""
    clock = ((~pid) << 3) | 2  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED), as glibc builds it
    try:
        return time.clock_gettime_ns(clock) / 1e9
    except OSError:
        return 0.0


def _is_renderer(proc: psutil.Process) -> bool:
    try:
        return "--type=renderer" in proc.cmdline()
    except psutil.Error:
        return False


Sample = tuple[dict[int, tuple[str, float]], dict[str, float]]


class CpuAccount:
    """`sample()` reads every process's CPU seconds and the page's metrics at once; `spent()`
    of two samples is each figure's CPU in between. Processes are looked up at every sample
    (renderers come and go): one that started in between counts from 0, one that exited in
    between loses its last stretch (`gone` counts those)."""

    def __init__(self, server_pid: int, cdp: CDPSession) -> None:
        self.server_pid = server_pid
        self.cdp = cdp
        self.gone = 0

    @classmethod
    async def attach(cls, server_pid: int, page: Page) -> CpuAccount:
        cdp = await page.context.new_cdp_session(page)
        try:  # durations in the main thread's CPU time, not wall time, where Chromium can
            await cdp.send("Performance.enable", {"timeDomain": "threadTicks"})
        except PlaywrightError:
            await cdp.send("Performance.enable")
        return cls(server_pid, cdp)

    def _groups(self) -> dict[int, str]:
        server = psutil.Process(self.server_pid)
        groups = {self.server_pid: "server"}
        groups |= {child.pid: "kernel" for child in server.children(recursive=True)}
        for proc in psutil.Process(os.getpid()).children(recursive=True):
            try:
                name = proc.name()
            except psutil.Error:
                continue
            if proc.pid not in groups and ("chrom" in name or "headless" in name):
                groups[proc.pid] = "renderer" if _is_renderer(proc) else "chromium"
        return groups

    async def sample(self) -> Sample:
        per_pid = {pid: (group, process_cpu_seconds(pid)) for pid, group in self._groups().items()}
        answer = await self.cdp.send("Performance.getMetrics")
        metrics = {m["name"]: float(m["value"]) for m in answer["metrics"]}
        page = {figure: metrics.get(metric, 0.0) for figure, metric in PAGE_METRICS.items()}
        page["page layout"] = sum(metrics.get(metric, 0.0) for metric in PAGE_LAYOUT)
        return per_pid, page

    def spent_ms_per_run(self, before: Sample, after: Sample, runs: int) -> dict[str, float]:
        """Each figure's CPU ms per run between two samples."""
        seconds = dict.fromkeys(GROUPS, 0.0)
        for pid, (group, now) in after[0].items():
            seconds[group] += now - before[0].get(pid, (group, 0.0))[1]
        self.gone += len(set(before[0]) - set(after[0]))
        seconds |= {figure: after[1][figure] - before[1][figure] for figure in after[1]}
        return {figure: seconds[figure] * 1000 / runs for figure in FIGURES}
