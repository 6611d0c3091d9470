"""KernelSidecar: one per kernel, for as long as the kernel lives.

It owns the kernel's shadow notebook and an always-on iopub subscription, so outputs are
recorded whether or not any browser is connected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .channels.shell import ShellChannel
from .channels.zmq.iopub import FanoutStream, IopubSubscription
from .execution.executor import KernelExecutor
from .protocol.message import KernelMessage
from .protocol.numbers import MessageNumbers
from .record.shadow import ShadowCell, ShadowNotebook
from .tuning.activity import KernelActivity

# iopub messages that can change what a cell shows. Anything else is not decoded at all.
_CELL_IOPUB = frozenset(
    {"stream", "display_data", "execute_input", "execute_result", "error", "clear_output", "status"}
)

_DISPLAY_IOPUB = frozenset({"update_display_data", "display_data"})

ChangeListener = Callable[["KernelSidecar", list[ShadowCell]], None]
# Called when a non-silent execution finished (its idle), with its execution count.
ExecutedListener = Callable[["KernelSidecar", int | None], None]


class RemoteSource(Protocol):
    """Where a kernel's iopub comes from when there is no local ZMQ socket (a gateway kernel:
    gateway_recorder.py). It calls the sidecar's iopub handler it was made with."""

    async def start(self, timeout: float) -> None: ...

    def close(self) -> None: ...

    async def wait_closed(self) -> None:
        """Wait for its background work to end (after `close`)."""
        ...

    def shell_channel(self, on_reply: Callable[[KernelMessage], None]) -> ShellChannel:
        """The sidecar's own shell channel over this source's connection."""
        ...


# Makes a sidecar's remote source from the sidecar and its iopub handler.
RemoteFactory = Callable[["KernelSidecar", Callable[[KernelMessage], None]], RemoteSource]


class KernelSidecar:
    """Records one kernel's executions into its ShadowNotebook and batches change events."""

    def __init__(
        self,
        kernel_id: str,
        kernel_manager: Any,
        notebook: ShadowNotebook,
        on_change: ChangeListener,
        log: logging.Logger,
        flush_interval: float = 0.05,
        on_executed: ExecutedListener | None = None,
        execution_queue: bool = True,
        remote: RemoteFactory | None = None,
    ) -> None:
        self.kernel_id = kernel_id
        self.kernel_name: str = getattr(kernel_manager, "kernel_name", "") or ""
        self.notebook = notebook
        self.path: str | None = None
        self.alive = True
        self.updated = time.time()  # last change to any of its cells
        self._km = kernel_manager
        self._on_change = on_change
        self._log = log
        self._flush_interval = flush_interval
        self._iopub = IopubSubscription(kernel_manager, self._on_iopub)
        self._receiving = asyncio.Event()
        self._dirty: dict[str, ShadowCell] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._started: asyncio.Task[None] | None = None
        self._busy: dict[str, None] = {}  # requests that went busy and not yet idle, in order
        self._nudges: set[str] = set()  # msg_ids of our kernel_info nudges
        self._renudge: asyncio.Future[None] | None = None
        self._timeout = 60.0
        self._on_executed = on_executed
        self._inputs: dict[str, int | None] = {}  # execute_input seen, idle not yet
        self._activity: KernelActivity | None = None
        self._numbers = MessageNumbers()  # iopub messages lost inside the kernel
        # A gateway kernel's recorder replaces the local subscription and control nudges.
        self.remote: RemoteSource | None = None if remote is None else remote(self, self._on_iopub)
        # held execute_requests, own shell channel, HTTP executions (executor.py); a gateway
        # kernel's own shell channel is its recorder's websocket
        shell = None if self.remote is None else self.remote.shell_channel(self.on_shell_reply)
        self.executor = KernelExecutor(
            kernel_manager,
            notebook,
            self._changed,
            self.on_shell_reply,
            log,
            execution_queue,
            shell=shell,
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def receiving(self) -> bool:
        """Whether the iopub subscription is known to receive from the current kernel."""
        return self._receiving.is_set()

    async def until_receiving(self) -> None:
        await self._receiving.wait()

    def start(self, timeout: float) -> asyncio.Task[None]:
        """Start receiving; the returned task resolves once iopub messages arrive."""
        self._timeout = timeout
        if self._started is None:
            self._started = asyncio.ensure_future(self._start(timeout))
        return self._started

    async def _start(self, timeout: float) -> None:
        if self.remote is not None:  # it nudges on its own connection
            await self.remote.start(timeout)
            self._receiving.set()
            return
        ready = getattr(self._km, "ready", None)
        if ready is not None:
            await (ready if isinstance(ready, asyncio.Future) else asyncio.wrap_future(ready))
        self._iopub.open()
        await self._wait_until_receiving(timeout)

    async def _wait_until_receiving(self, timeout: float) -> None:
        """Nudge the kernel over control until our subscription sees the iopub answer.

        ZMQ subscriptions take a moment to (re)connect and propagate; without this, a fast
        first execution, or the first one after a restart, could be missed. Control
        requests are answered even while the shell is busy. Only a status answering one of
        our own nudges counts, so late messages from a previous kernel process do not.
        """
        control = self._km.connect_control()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while not self._receiving.is_set() and loop.time() < deadline and self.alive:
                sent = self._km.session.send(control, "kernel_info_request")
                self._nudges.add(sent["header"]["msg_id"])
                try:
                    await asyncio.wait_for(self._receiving.wait(), 0.25)
                except asyncio.TimeoutError:
                    continue
        finally:
            control.close(linger=0)
            self._nudges.clear()
        if not self._receiving.is_set() and self.alive:
            self._log.warning(
                "jupyter_sidecar_ext: no iopub traffic from kernel %s", self.kernel_id
            )
            self._receiving.set()  # nothing to wait for: never hold clients forever

    def watch_activity(self, activity: KernelActivity | None) -> None:
        """Keep the server's activity markers from this sidecar's iopub (None: stop)."""
        self._activity = activity

    def iopub_stream(self) -> FanoutStream:
        """An iopub stream for a websocket connection, fed by this sidecar's subscription."""
        return self._iopub.stream()

    def on_restarted(self) -> None:
        """The kernel restarted: old cells are marked, the subscription follows new ports,
        and clients' requests are held until it receives from the new kernel process."""
        self.executor.on_restarted()
        if self.remote is None:
            self._iopub.open()
        self._busy.clear()
        self._inputs.clear()
        self._changed(self.notebook.mark_restart())
        if self.remote is not None:
            return  # a gateway websocket outlives the kernel process: nothing to re-nudge
        self._receiving.clear()
        if self._renudge is not None:
            self._renudge.cancel()
        self._renudge = asyncio.ensure_future(self._wait_until_receiving(self._timeout))

    def retire(self) -> None:
        """The kernel is gone: stop receiving, keep the notebook for readers."""
        self.alive = False
        self.executor.close()
        self._iopub.close()
        if self.remote is not None:
            self.remote.close()
        for task in (self._started, self._renudge):
            if task is not None and not task.done():
                task.cancel()
        self._receiving.set()  # release anything held for it
        self.flush()

    def mark_unfinished(self) -> list[str]:
        """The remote source lost its connection: cells still queued or running may lose
        messages meanwhile, so they are marked `gap`. Returns their msg_ids."""
        unfinished = [
            cell.msg_id
            for cell in self.notebook.cells()
            if cell.status in ("queued", "running")
            and not cell.stale
            and not self.executor.queue.is_waiting(cell.msg_id)  # not sent yet: nothing lost
        ]
        for msg_id in unfinished:
            self._changed(self.notebook.mark_gap(msg_id))
        return unfinished

    def close_lost(self, msg_ids: Iterable[str]) -> None:
        """These requests ended while the remote source was away (their idle was lost), as
        a later request's busy shows: finish them, as `_track_gaps` does (and tell the
        executor, whose queue and HTTP executions wait for those idles too)."""
        lost = [msg_id for msg_id in msg_ids if not self.executor.queue.is_waiting(msg_id)]
        for msg_id in lost:
            self._busy.pop(msg_id, None)
            self._inputs.pop(msg_id, None)
            self._changed(self.notebook.mark_gap(msg_id))
            self._changed(self.notebook.handle_iopub("status", msg_id, {"execution_state": "idle"}))
        self.executor.on_lost(lost)

    # -- traffic -----------------------------------------------------------------------------

    def on_execute_request(self, msg_id: str, code: str, cell_id: str | None) -> None:
        """A client sent an execute_request (seen before it reaches the kernel)."""
        self._changed([self.notebook.add_request(msg_id, code, cell_id)])

    def on_shell_reply(self, msg: KernelMessage) -> None:
        """An execute_reply travelled to a client."""
        parent = msg.parent_msg_id
        if parent is not None:
            self._changed(self.notebook.handle_reply(parent, msg.content))
        self.executor.on_reply(msg)

    def note_kernel_message(self) -> None:
        """The kernel sent a message on a channel other than iopub (passing to a client)."""
        self._numbers.note_other()

    def _on_iopub(self, msg: KernelMessage) -> None:
        if self._activity is not None:
            self._activity.record(msg)
        self._numbers.count()
        if not self._receiving.is_set() and msg.parent_msg_id in self._nudges:
            self._receiving.set()
        msg_type = msg.msg_type
        # Display-id updates apply whatever their parent (e.g. widget callbacks), as in
        # JupyterLab; everything else only matters when it answers an execute_request.
        if msg_type in _DISPLAY_IOPUB or (
            msg_type in _CELL_IOPUB and msg.parent_msg_type == "execute_request"
        ):
            if msg_type == "status":
                self._track_gaps(msg)
            self._changed(self.notebook.handle_iopub(msg_type, msg.parent_msg_id, msg.content))
            if self._on_executed is not None and msg_type in ("execute_input", "status"):
                self._track_executed(msg)
        self.executor.on_iopub(msg)

    def _track_executed(self, msg: KernelMessage) -> None:
        """Tell the listener when a user execution finished: the idle of a request that had
        an execute_input (silent requests publish none). Content is already decoded here."""
        parent_id = msg.parent_msg_id
        if parent_id is None or self._on_executed is None:
            return
        if msg.msg_type == "execute_input":
            count = msg.content.get("execution_count")
            self._inputs[parent_id] = count if isinstance(count, int) else None
            while len(self._inputs) > 64:  # idles lost on the way: do not grow
                del self._inputs[next(iter(self._inputs))]
        elif parent_id in self._inputs and msg.content.get("execution_state") == "idle":
            self._on_executed(self, self._inputs.pop(parent_id))

    def _track_gaps(self, msg: KernelMessage) -> None:
        """Detect lost iopub messages. From ordering: one kernel PUB socket sends in order
        and the main shell runs one request at a time, so a request going busy while an
        earlier one never went idle means that idle (and maybe outputs) was dropped on the
        way. From message numbers (message_numbers.py): outputs dropped in between."""
        parent_id = msg.parent_msg_id
        if parent_id is None or msg.parent_header.get("subshell_id"):
            return
        state = msg.content.get("execution_state")
        number = self._numbers.number(msg.header.get("msg_id"))
        if state == "idle":
            self._busy.pop(parent_id, None)
            lost_count = self._numbers.idle(parent_id, number)
            if lost_count:
                self._log.warning(
                    "jupyter_sidecar_ext: kernel %s dropped about %d iopub messages of %s "
                    "(its send queue overflowed); the cell is marked as having a gap",
                    self.kernel_id,
                    lost_count,
                    parent_id,
                )
                self._changed(self.notebook.mark_gap(parent_id))
        elif state == "busy":
            self._numbers.busy(parent_id, number)
            for lost in [other for other in self._busy if other != parent_id]:
                del self._busy[lost]
                self._numbers.forget(lost)
                self._changed(self.notebook.mark_gap(lost))
                idle = {"execution_state": "idle"}
                self._changed(self.notebook.handle_iopub("status", lost, idle))
            self._busy[parent_id] = None

    # -- change batching -----------------------------------------------------------------------

    def _changed(self, cells: list[ShadowCell]) -> None:
        if not cells:
            return
        self.updated = time.time()
        for cell in cells:
            self._dirty[cell.id] = cell
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self._flush_interval, self.flush)

    def flush(self) -> None:
        """Hand the cells changed since the last flush to the listener, once each."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._dirty:
            return
        cells = list(self._dirty.values())
        self._dirty.clear()
        self._on_change(self, cells)
