"""SidecarRegistry: a KernelSidecar for every kernel the server runs.

Kernels are followed through the server's own kernel action events (start, restart,
shutdown, from REST, sessions or the restarter alike); websocket connections and REST
handlers also call `ensure`, so no kernel goes unrecorded whatever fires first.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from ._tz import isoformat
from .channels.base import ChannelsFactory
from .events import CELL_CHANGED_SCHEMA, EXECUTION_FINISHED_SCHEMA, KERNEL_ACTIONS_SCHEMA
from .record.shadow import ShadowCell, ShadowNotebook
from .record.store import CellSnapshots, CellStore, KernelRecord
from .sidecar import ExecutedListener, KernelSidecar

PathResolver = Callable[[str], Awaitable[str | None]]
# Told of each sidecar's batch of changed cells (e.g. the shared-document writer).
CellsListener = Callable[[KernelSidecar, list[ShadowCell]], None]


class SidecarRegistry(LoggingConfigurable):
    """Owns the live sidecars and keeps the notebooks of recently retired kernels."""

    max_output_bytes = Int(
        4_000_000,
        config=True,
        help="Output kept per cell, in bytes. Past it the head and the tail are kept and "
        "the drop is stated in the output.",
    )
    max_cells = Int(
        1000,
        config=True,
        help="Cells kept per kernel; the oldest finished cells are evicted first.",
    )
    max_retired_kernels = Int(
        50,
        config=True,
        help="Shut-down kernels whose recorded notebook stays readable over REST.",
    )
    start_timeout = Float(
        60.0,
        config=True,
        help="Seconds to wait for a new kernel's iopub subscription to receive traffic.",
    )
    event_flush_interval = Float(
        0.05,
        config=True,
        help="Seconds over which cell changes are batched into one event per cell.",
    )

    def __init__(
        self,
        kernel_manager: Any,
        event_logger: Any,
        channels: ChannelsFactory,
        *,
        execution_queue: bool = True,
        resolve_path: PathResolver | None = None,
        store: CellStore | None = None,
        on_retired: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        """`channels` makes each kernel's channels (the app's choice: local ZMQ or a
        gateway's websockets); `execution_queue` holds execute_requests server-side
        (execution/queue.py)."""
        super().__init__(**kwargs)
        self._kernel_manager = kernel_manager
        self._event_logger = event_logger
        self._channels = channels
        self._execution_queue = execution_queue
        self._resolve_path = resolve_path
        self._store = store
        if store is not None:  # a store file deleted or replaced is refilled from memory
            store.set_memory_source(self._held_in_memory)
        self._on_retired = on_retired  # a kernel is gone: its memory was freed (memory_release)
        self._live: dict[str, KernelSidecar] = {}
        self._retired: OrderedDict[str, KernelSidecar] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._execution_listeners: list[ExecutedListener] = []
        self._cells_listeners: list[CellsListener] = []
        # gateway kernels the gateway said are gone: never adopted again (no reconnect loop)
        self._gone: OrderedDict[str, None] = OrderedDict()

    def add_execution_listener(self, listener: ExecutedListener) -> None:
        """Be told when a user execution finished on any kernel (e.g. the variables service)."""
        self._execution_listeners.append(listener)

    def add_cells_listener(self, listener: CellsListener) -> None:
        """Be told of every batch of changed cells, after they were stored."""
        self._cells_listeners.append(listener)

    # -- lookup --------------------------------------------------------------------------------

    def get(self, kernel_id: str) -> KernelSidecar | None:
        """The live sidecar of a kernel (the hot path uses this)."""
        return self._live.get(kernel_id)

    def find(self, kernel_id: str) -> KernelSidecar | None:
        """A live or retired sidecar."""
        return self._live.get(kernel_id) or self._retired.get(kernel_id)

    def find_or_adopt(self, kernel_id: str) -> KernelSidecar | None:
        """A live or retired sidecar, else one adopted now for a running kernel the
        registry has not met yet (readers never wait for it to start receiving)."""
        return self.find(kernel_id) or self.adopt(kernel_id)

    def all(self) -> list[KernelSidecar]:
        return [*self._live.values(), *self._retired.values()]

    # -- lifecycle -----------------------------------------------------------------------------

    def listen(self) -> None:
        """Follow the server's kernel actions (needs no running loop: call at init)."""
        if self._event_logger is not None:
            self._event_logger.add_listener(
                schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
            )

    async def adopt_running_kernels(self) -> None:
        """Record kernels that were already running when the extension started."""
        for kernel_id in list(self._kernel_manager.list_kernel_ids()):
            await self.ensure(kernel_id)

    async def stop(self) -> None:
        """Stop every recorder and wait for background work (server shutdown)."""
        if self._event_logger is not None:
            self._event_logger.remove_listener(
                schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
            )
        stopping = list(self._live.values())
        for kernel_id in list(self._live):
            self.retire(kernel_id)
        for sidecar in stopping:  # their channels' background work ends too
            await sidecar.channels.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._store is not None:
            await self._store.close()

    async def stored_kernels(self, path: str | None = None) -> list[dict[str, Any]]:
        """Kernels recorded in the store (also those of earlier server runs), newest first."""
        return [] if self._store is None else await self._store.kernels(path)

    async def stored_notebook(self, kernel_id: str) -> dict[str, Any] | None:
        """A kernel's notebook as last stored, for kernels no longer in memory. Cells that
        were still queued or running when it was stored never finished: they read as
        aborted, with a gap (the server went away, or the store fell behind)."""
        stored = None if self._store is None else await self._store.notebook(kernel_id)
        for cell in [] if stored is None else stored["cells"]:
            if cell.get("status") in ("queued", "running"):
                cell.update(status="aborted", gap=True)
        return stored

    async def ensure(self, kernel_id: str) -> KernelSidecar | None:
        """The kernel's sidecar, created and receiving; None for an unknown kernel."""
        sidecar = self.adopt(kernel_id)
        if sidecar is None:
            return None
        if sidecar.path is None:  # by the time a client connects, its session exists
            await self._remember_path(sidecar)
        try:
            await asyncio.shield(sidecar.start(self.start_timeout))
        except asyncio.CancelledError:
            if sidecar.alive:
                raise
        except Exception:
            self.log.exception("recorder for %s failed to start", kernel_id)
        return sidecar

    def adopt(self, kernel_id: str) -> KernelSidecar | None:
        """The kernel's sidecar, created if needed and starting in the background (readers
        must never wait for a kernel); None for an unknown kernel, and for a gateway kernel
        the gateway said is gone (the server may list it until its next refresh)."""
        sidecar = self._live.get(kernel_id)
        if sidecar is None:
            if kernel_id not in self._kernel_manager or kernel_id in self._gone:
                return None
            km = self._kernel_manager.get_kernel(kernel_id)
            notebook = ShadowNotebook(
                max_output_bytes=self.max_output_bytes, max_cells=self.max_cells
            )
            previous = self._retired.pop(kernel_id, None)
            if previous is not None:  # same id started again: keep what it recorded
                notebook = previous.notebook
                notebook.mark_restart()
            sidecar = KernelSidecar(
                kernel_id,
                km,
                notebook,
                self._cells_changed,
                self.log,
                self._channels,
                flush_interval=self.event_flush_interval,
                on_executed=self._executed if self._execution_listeners else None,
                execution_queue=self._execution_queue,
                on_gone=lambda: self._kernel_gone(kernel_id),
                on_finished=self._finished,
            )
            self._live[kernel_id] = sidecar
            self._kernel_manager.add_restart_callback(
                kernel_id, lambda: self.retire(kernel_id), "dead"
            )
            self._track(self._remember_path(sidecar))
            self._track(sidecar.start(self.start_timeout))
        return sidecar

    def retire(self, kernel_id: str) -> None:
        """The kernel is gone: keep its notebook readable, bounded in number."""
        sidecar = self._live.pop(kernel_id, None)
        if sidecar is None:
            return
        sidecar.retire()
        self._retired[kernel_id] = sidecar
        while len(self._retired) > self.max_retired_kernels:
            self._retired.popitem(last=False)
        if self._on_retired is not None:
            self._on_retired()

    def _kernel_gone(self, kernel_id: str) -> None:
        """The kernel's channels say it no longer exists (a gateway kernel shut down or culled
        behind our back): never adopted again under this id, unless started anew here."""
        self._gone[kernel_id] = None
        while len(self._gone) > 4 * self.max_retired_kernels + 64:
            self._gone.popitem(last=False)
        self.retire(kernel_id)

    async def path_of(self, sidecar: KernelSidecar) -> str | None:
        """The notebook path of the kernel's session, remembered after the kernel is gone."""
        if sidecar.alive:
            await self._remember_path(sidecar)
        return sidecar.path

    async def _remember_path(self, sidecar: KernelSidecar) -> None:
        if self._resolve_path is None:
            return
        try:
            path = await self._resolve_path(sidecar.kernel_id)
        except Exception:
            self.log.debug("no session path for %s", sidecar.kernel_id)
            return
        if path:
            sidecar.path = path

    # -- events --------------------------------------------------------------------------------

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        kernel_id = data.get("kernel_id")
        if not isinstance(kernel_id, str) or data.get("status") != "success":
            return
        action = data.get("action")
        if action == "start":
            self._gone.pop(kernel_id, None)  # started (again) through this server
            await self.ensure(kernel_id)
        elif action == "restart":
            sidecar = self._live.get(kernel_id)
            if sidecar is not None:
                sidecar.on_restarted()
            else:
                await self.ensure(kernel_id)
        elif action == "shutdown":
            self.retire(kernel_id)

    def _cells_changed(self, sidecar: KernelSidecar, cells: list[ShadowCell]) -> None:
        """A sidecar's batch of changed cells: persist them and push one event per cell.
        Cells evicted from memory meanwhile (past max_cells) leave the store too."""
        evicted = sidecar.notebook.take_evicted()
        if self._store is not None:
            notebook = sidecar.notebook
            kept = cells
            if evicted:
                self._store.forget(sidecar.kernel_id, evicted)
                kept = [cell for cell in cells if notebook.get(cell.id) is cell]
            self._store.save(self._record(sidecar), {cell.id: cell.to_dict for cell in kept})
        for listener in self._cells_listeners:
            try:  # a failing listener must not keep events (or recording) from going on
                listener(sidecar, cells)
            except Exception:
                self.log.exception("a cells listener failed")
        if self._event_logger is None:
            return
        for cell in cells:
            self._event_logger.emit(
                schema_id=CELL_CHANGED_SCHEMA,
                data={
                    "kernel_id": sidecar.kernel_id,
                    "cell_id": cell.id,
                    "msg_id": cell.msg_id,
                    "status": cell.status,
                    "execution_count": cell.execution_count,
                    "seq": cell.seq,
                    "input_request": cell.input_request,
                    "stale_inputs": len(cell.stale_because),
                },
            )

    def _finished(self, sidecar: KernelSidecar, cells: list[ShadowCell]) -> None:
        """Executions that ended in a sidecar's batch: one `execution_finished` event each."""
        if self._event_logger is None:
            return
        for cell in cells:
            started, ended = cell.started, cell.ended
            self._event_logger.emit(
                schema_id=EXECUTION_FINISHED_SCHEMA,
                data={
                    "kernel_id": sidecar.kernel_id,
                    "cell_id": cell.id,
                    "msg_id": cell.msg_id,
                    "status": cell.status,
                    "execution_count": cell.execution_count,
                    "ename": cell.ename if cell.status == "error" else None,
                    "started": None if started is None else isoformat(started),
                    "ended": isoformat(ended if ended is not None else sidecar.updated),
                    "duration": None
                    if started is None or ended is None
                    else round(max(0.0, ended - started), 3),
                    "unwatched": cell.unwatched,
                },
            )

    def _held_in_memory(self) -> list[tuple[KernelRecord, CellSnapshots]]:
        """Every cell of the live and retired notebooks, as the store saves them."""
        return [
            (self._record(sidecar), {cell.id: cell.to_dict for cell in sidecar.notebook.cells()})
            for sidecar in self.all()
        ]

    @staticmethod
    def _record(sidecar: KernelSidecar) -> KernelRecord:
        notebook = sidecar.notebook
        return KernelRecord(
            sidecar.kernel_id, sidecar.kernel_name, sidecar.path, notebook.seq, notebook.run
        )

    def _executed(self, sidecar: KernelSidecar, execution_count: int | None) -> None:
        for listener in self._execution_listeners:
            try:  # one failing listener must not keep the others (or recording) from running
                listener(sidecar, execution_count)
            except Exception:
                self.log.exception("an execution listener failed")

    def _track(self, awaitable: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
