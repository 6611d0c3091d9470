"""DataflowService: follows every kernel's executions and snapshots to keep its dataflow.

Told of each finished user execution by the registry, it only notes it (on the
kernel->client path: the idle that announced it is being handed out, and the execute_reply
may be next in the loop) and takes the noted ones in, in one batch, `record_delay` later:
by then the client has its answer, and a burst of cells costs one pass. Taking one in
records (cell id, count, source, time) in the kernel's history and analyses the source
(analysis.py; in a thread past `inline_max_chars`). Every reader (graph, plan, a snapshot)
takes the noted executions in first, so it sees what it would have seen without the delay.
Told by the variables service which names a snapshot shows changed, it records them on the
last execution the snapshot covers (tracker.revealed decides what the code did not explain).
Staleness is updated incrementally (tracker.py) and set on the shadow cells whose staleness
changed, so it reaches REST, the store and the `cell_changed` events like any other change.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from ..execution.http import HttpExecution, InputPending
from ..record.shadow import ShadowCell
from ..registry import SidecarRegistry
from ..sidecar import KernelSidecar
from .analysis import analyze
from .graph import Execution, Graph, build
from .plan import Notebook, PlanCell, PlanError
from .tracker import StaleTracker, revealed

__all__ = ["DataflowService", "PlanError"]


@dataclass
class KernelFlow:
    """One kernel run's history of executions."""

    sidecar: KernelSidecar
    run: int
    history: list[Execution] = field(default_factory=list)
    tracker: StaleTracker = field(default_factory=StaleTracker)
    seq: int = 0
    pending: int = 0  # analyses running in threads: the tracker is rebuilt when they end


class DataflowService(LoggingConfigurable):
    """Keeps each kernel's dataflow and makes plans (`c.DataflowService.*`)."""

    inline_max_chars = Int(
        1000,
        config=True,
        help="Cells up to this many characters are analysed on the event loop (about 0.15 "
        "ms at the median); longer ones in a worker thread.",
    )
    max_history = Int(
        5000,
        config=True,
        help="Executions remembered per kernel run; the oldest are forgotten first.",
    )
    record_delay = Float(
        0.05,
        config=True,
        help="Seconds after an execution ends before it is taken into the dataflow (with "
        "the others that ended meanwhile): none of it runs before the client has its reply. "
        "Reads (REST, plans, snapshots) take pending executions in first.",
    )

    def __init__(self, registry: SidecarRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._registry = registry
        self._kernels: dict[str, KernelFlow] = {}
        self._tasks: set[asyncio.Future[Any]] = set()
        self._noted: list[tuple[KernelSidecar, ShadowCell, int]] = []
        self._take_in: asyncio.TimerHandle | None = None

    def listen(self) -> None:
        """Follow user executions (call at init); snapshots come through on_snapshot."""
        self._registry.add_execution_listener(self.on_executed)

    async def stop(self) -> None:
        if self._take_in is not None:
            self._take_in.cancel()
            self._take_in = None
        self._noted.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- following executions ------------------------------------------------------------

    def on_executed(self, sidecar: KernelSidecar, execution_count: int | None) -> None:
        """Registry listener, on the kernel->client path: find the cell (one lookup by
        msg_id) and note it; the rest waits for `take_in`."""
        msg_id = sidecar.last_executed
        cell = None if msg_id is None else sidecar.notebook.by_msg_id(msg_id)
        if cell is not None and execution_count is not None:
            self._noted.append((sidecar, cell, execution_count))
            if self._take_in is None:
                loop = asyncio.get_running_loop()
                self._take_in = loop.call_later(self.record_delay, self.take_in)

    def take_in(self) -> None:
        """Record the executions noted since the last time, in the order they ended."""
        if self._take_in is not None:
            self._take_in.cancel()
            self._take_in = None
        noted, self._noted = self._noted, []
        for sidecar, cell, execution_count in noted:
            try:  # one failing record must not lose the others
                self._record(sidecar, cell, execution_count)
            except Exception:
                self.log.exception("dataflow: recording an execution failed")

    def on_snapshot(
        self, sidecar: KernelSidecar, since: int | None, count: int | None, names: frozenset[str]
    ) -> None:
        """Variables-service listener: `names` changed in the executions after `since` up
        to `count` (the snapshot's range)."""
        if not names:
            return  # nothing to credit (the usual case: the rows are the same)
        self.take_in()
        flow = self._flow(sidecar)
        if count is None or not flow.history:
            return
        covered = _covered(flow.history, since, count)
        if covered is None:
            return
        first, index = covered
        last = flow.history[index]
        last.changed = last.changed | names
        last.covers = index - first + 1
        if flow.pending:
            return  # the rebuild when the analysis ends takes it in
        self._tell(flow, flow.tracker.redefined(last, revealed(flow.history, index)))

    def _flow(self, sidecar: KernelSidecar) -> KernelFlow:
        flow = self._kernels.get(sidecar.kernel_id)
        run = sidecar.notebook.run
        if flow is None or flow.sidecar is not sidecar or flow.run != run:
            self.forget(sidecar.kernel_id)
            for gone in [k for k, f in self._kernels.items() if not f.sidecar.alive]:
                self.forget(gone)  # shut-down kernels: their history is of no more use
            flow = self._kernels[sidecar.kernel_id] = KernelFlow(sidecar, run)
        return flow

    def _record(self, sidecar: KernelSidecar, cell: ShadowCell, execution_count: int) -> None:
        if cell.run != sidecar.notebook.run:
            return  # the kernel restarted meanwhile
        flow = self._flow(sidecar)
        flow.seq += 1
        execution = Execution(cell.id, execution_count, cell.source, cell.ended, seq=flow.seq)
        flow.history.append(execution)
        if len(flow.history) > self.max_history:
            del flow.history[: len(flow.history) - self.max_history]
        if len(cell.source) <= self.inline_max_chars:
            execution.names = analyze(cell.source)
            if not flow.pending:
                self._tell(flow, flow.tracker.executed(execution))
            return
        flow.pending += 1
        task = asyncio.ensure_future(asyncio.to_thread(analyze, cell.source))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

        def analysed(done: asyncio.Future[Any]) -> None:
            flow.pending -= 1
            if not done.cancelled() and done.exception() is None:
                execution.names = done.result()
            if not flow.pending and self._kernels.get(sidecar.kernel_id) is flow:
                self._rebuild(flow)

        task.add_done_callback(analysed)

    def _rebuild(self, flow: KernelFlow) -> None:
        """Replay the history (after analyses that ended out of order)."""
        before = flow.tracker.stale_cells()
        flow.tracker = StaleTracker.replay(flow.history)
        self._tell(flow, before | flow.tracker.stale_cells())

    def _tell(self, flow: KernelFlow, changed: set[str]) -> None:
        """Set the staleness of the cells whose staleness changed on their shadow cells."""
        if changed:
            tracker = flow.tracker
            reasons = {cid: [r.to_dict() for r in tracker.reasons(cid)] for cid in changed}
            flow.sidecar.on_dataflow(reasons)

    def forget(self, kernel_id: str) -> None:
        self._kernels.pop(kernel_id, None)

    # -- reading -------------------------------------------------------------------------

    def graph(self, sidecar: KernelSidecar) -> Graph:
        """The dataflow of the kernel's recorded cells (from the current run)."""
        self.take_in()
        return build(self._flow(sidecar).history)

    async def plan(
        self, sidecar: KernelSidecar, cells: list[PlanCell], target: str, direction: str
    ) -> list[str]:
        """The cell ids to run, in order (PlanError: the target is not among the cells).
        Upstream skips cells already current: run in this kernel run with this source and
        not stale. The notebook's cells are analysed in a thread past `inline_max_chars`
        in all (a first plan of a big notebook analyses every cell)."""
        if sum(len(cell.source) for cell in cells) <= self.inline_max_chars:
            notebook = Notebook(cells)
        else:
            notebook = await asyncio.to_thread(Notebook, cells)
        if direction == "downstream":
            return notebook.downstream(target)
        self.take_in()
        flow = self._flow(sidecar)
        stale = flow.tracker.stale_cells()
        ran = {execution.cell_id: execution.source for execution in flow.history}

        def current(cell_id: str) -> bool:
            position = notebook.index[cell_id]
            same = ran.get(cell_id) == notebook.cells[position].source
            return same and cell_id not in stale

        return notebook.upstream(target, current)

    def run(
        self, sidecar: KernelSidecar, cells: list[PlanCell], plan: list[str]
    ) -> list[dict[str, str]]:
        """Enqueue the planned cells in the server-side queue, in order; each can be taken
        out like any queued cell. A failing cell aborts the ones behind it."""
        sources = {cell.id: cell.source for cell in cells}
        queued = []
        for cell_id in plan:
            execution = HttpExecution(
                sidecar.executor, sources[cell_id], cell_id, stop_on_error=True
            )
            task = asyncio.ensure_future(execution.run(None, _no_interrupt))
            self._tasks.add(task)
            task.add_done_callback(self._finished)
            queued.append({"id": cell_id, "msg_id": execution.msg_id})
        return queued

    def _finished(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        error = None if task.cancelled() else task.exception()
        if isinstance(error, InputPending):  # not a failure: its cell shows the input_request
            self.log.debug("a planned cell waits for input (POST .../input): %s", error.msg_id)
        elif error is not None:
            self.log.warning("a planned cell could not run: %s", error)


def _covered(history: list[Execution], since: int | None, count: int) -> tuple[int, int] | None:
    """(first, last) index of the executions counted after `since` up to `count`. The
    history of one kernel run is in count order, so this walks back from its end only as
    far as the snapshot reaches (a snapshot follows every tiny execution: a walk over the
    whole history, thousands of executions, would cost the next round trip)."""
    first = last = None
    for index in range(len(history) - 1, -1, -1):
        executed = history[index].execution_count
        if executed is None or executed > count:
            continue
        if since is not None and executed <= since:
            break
        first = index
        if last is None:
            last = index
    return None if first is None or last is None else (first, last)


async def _no_interrupt() -> None:
    """Plans run without a timeout: nothing to interrupt."""
