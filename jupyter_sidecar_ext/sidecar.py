"""KernelSidecar: one per kernel, for as long as the kernel lives.

It owns the kernel's shadow notebook and an always-on iopub subscription, so outputs are
recorded whether or not any browser is connected.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from .channels.base import ChannelEvents, ChannelsFactory
from .execution.executor import KernelExecutor
from .protocol.message import KernelMessage
from .protocol.numbers import MessageNumbers
from .record.shadow import ShadowCell, ShadowNotebook

# iopub messages that can change what a cell shows. Anything else is not decoded at all.
_CELL_IOPUB = frozenset(
    {"stream", "display_data", "execute_input", "execute_result", "error", "clear_output", "status"}
)

_DISPLAY_IOPUB = frozenset({"update_display_data", "display_data"})

ChangeListener = Callable[["KernelSidecar", list[ShadowCell]], None]
# Called when a non-silent execution finished (its idle), with its execution count.
ExecutedListener = Callable[["KernelSidecar", int | None], None]
# Told of the executions that ended in one batch (each says whether it ended `unwatched`).
FinishedListener = Callable[["KernelSidecar", list[ShadowCell]], None]
# Executions whose sending client is remembered, per kernel (bounded).
_MAX_SENDERS = 1000

# Told of every iopub message (the server's activity markers: tuning/activity.py).
IopubWatcher = Callable[[KernelMessage], None]


class KernelSidecar(ChannelEvents):
    """Records one kernel's executions into its ShadowNotebook and batches change events.

    It talks to the kernel through the KernelChannels its factory makes (local ZMQ or a
    gateway's websocket: channels/), and hears from them as their ChannelEvents."""

    def __init__(
        self,
        kernel_id: str,
        kernel_manager: Any,
        notebook: ShadowNotebook,
        on_change: ChangeListener,
        log: logging.Logger,
        channels: ChannelsFactory,
        flush_interval: float = 0.05,
        on_executed: ExecutedListener | None = None,
        execution_queue: bool = True,
        on_gone: Callable[[], None] | None = None,
        on_finished: FinishedListener | None = None,
    ) -> None:
        self.kernel_id = kernel_id
        self.kernel_name: str = getattr(kernel_manager, "kernel_name", "") or ""
        self.notebook = notebook
        self.path: str | None = None
        self.alive = True
        self.updated = time.time()  # last change to any of its cells
        self._on_change = on_change
        self._log = log
        self._flush_interval = flush_interval
        self._dirty: dict[str, ShadowCell] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._busy: dict[str, None] = {}  # requests that went busy and not yet idle, in order
        self._on_executed = on_executed
        self._on_gone = on_gone
        self._on_finished = on_finished
        self._inputs: dict[str, int | None] = {}  # execute_input seen, idle not yet
        # the msg_id of the execution the execution listeners are being told about
        self.last_executed: str | None = None
        self._watch_iopub: IopubWatcher | None = None
        self._numbers = MessageNumbers()  # iopub messages lost inside the kernel
        # msg_id of an execution waiting for input -> the kernel's input_request header
        self._input_requests: dict[str, dict[str, Any]] = {}
        self._senders: OrderedDict[str, str] = OrderedDict()  # msg_id -> client session
        self._clients: dict[str, int] = {}  # client session -> its open websockets
        self._clients_since = 0.0  # when `_clients` last became empty or non-empty
        self.channels = channels(kernel_id, kernel_manager, self, log)
        # held execute_requests, own shell channel, HTTP executions (execution/executor.py)
        self.executor = KernelExecutor(
            kernel_manager,
            notebook,
            self._changed,
            log,
            execution_queue,
            shell=self.channels.shell(),
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def receiving(self) -> bool:
        """Whether the iopub subscription is known to receive from the current kernel."""
        return self.channels.receiving

    async def until_receiving(self) -> None:
        await self.channels.until_receiving()

    def start(self, timeout: float) -> asyncio.Task[None]:
        """Start receiving; the returned task resolves once iopub messages arrive."""
        return self.channels.start(timeout)

    def watch_iopub(self, watcher: IopubWatcher | None) -> None:
        """Tell `watcher` of every iopub message (the server's activity markers; None: stop)."""
        self._watch_iopub = watcher

    def iopub_stream(self) -> Any | None:
        """An iopub stream for a websocket connection, fed by this sidecar's subscription
        (None: the connection keeps its own, as gateway relays do)."""
        return self.channels.iopub_stream()

    def on_restarted(self) -> None:
        """The kernel restarted: old cells are marked, the channels follow the new process,
        and clients' requests are held until it receives from it."""
        self.executor.on_restarted()
        self._busy.clear()
        self._inputs.clear()
        self._input_requests.clear()
        self._changed(self.notebook.mark_restart())
        self.channels.follow_restart()

    def retire(self) -> None:
        """The kernel is gone: stop receiving, keep the notebook for readers."""
        self.alive = False
        self.executor.close()
        self.channels.close()
        self.flush()

    # -- what the channels tell (ChannelEvents) ------------------------------------------------

    def on_disconnected(self) -> list[str]:
        """The link dropped: cells still queued or running may lose messages meanwhile, so
        they are marked `gap`. Returns their msg_ids."""
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

    def on_caught_up(self, msg_ids: Iterable[str]) -> None:
        """These requests ended while the link was down (their idle was lost), as a later
        request's busy shows: finish them, as `_track_gaps` does (and tell the executor,
        whose queue and HTTP executions wait for those idles too)."""
        lost = [msg_id for msg_id in msg_ids if not self.executor.queue.is_waiting(msg_id)]
        for msg_id in lost:
            self._busy.pop(msg_id, None)
            self._inputs.pop(msg_id, None)
            self._changed(self.notebook.mark_gap(msg_id))
            self._changed(self.notebook.handle_iopub("status", msg_id, {"execution_state": "idle"}))
        self.executor.on_lost(lost)

    def on_gone(self) -> None:
        """The kernel no longer exists: what was still running will not finish."""
        self._changed(self.notebook.mark_restart())
        if self._on_gone is not None:
            self._on_gone()

    # -- traffic -----------------------------------------------------------------------------

    def on_execute_request(
        self, msg_id: str, code: str, cell_id: str | None, client: str | None = None
    ) -> None:
        """A client sent an execute_request (seen before it reaches the kernel); `client`
        is the session of the websocket it came through."""
        if client:
            self._senders[msg_id] = client
            while len(self._senders) > _MAX_SENDERS:
                self._senders.popitem(last=False)
        self._changed([self.notebook.add_request(msg_id, code, cell_id)])

    def identify(self, msg_id: str, cell_id: str) -> None:
        """The execution `msg_id`, recorded without a cell id (sent by a client the tap did
        not see, e.g. jupyter-server-documents' own kernel client), ran notebook cell
        `cell_id` (collab/cell_ids.py found it in the shared document)."""
        changed = self.notebook.identify(msg_id, cell_id)
        if changed:
            self._dirty.pop(msg_id, None)  # flushed under its new id
            self._changed(changed)

    # -- clients (who shows an execution's outputs) ---------------------------------------------

    def client_opened(self, client: str) -> None:
        """A websocket of this client session opened (a page, or the same page reconnecting)."""
        if not self._clients:
            self._clients_since = time.time()
        self._clients[client] = self._clients.get(client, 0) + 1

    def client_closed(self, client: str) -> None:
        """A websocket of this client session closed. When it was its last, the executions
        it sent and that are still unfinished are orphaned: they are handed to the change
        listeners again, so that a writer of shared documents can take them over at once."""
        left = self._clients.get(client, 0) - 1
        if left > 0:
            self._clients[client] = left
            return
        self._clients.pop(client, None)
        if not self._clients:
            self._clients_since = time.time()
        self._changed(
            [
                cell
                for cell in self.notebook.cells()
                if cell.status in ("queued", "running") and self._senders.get(cell.msg_id) == client
            ]
        )

    def orphaned(self, msg_id: str) -> bool:
        """Whether the page that sent this execution is gone: its client session is known
        and has no websocket open. Executions of unknown origin (HTTP, gateway relays) are
        never orphaned."""
        client = self._senders.get(msg_id)
        return client is not None and client not in self._clients

    def on_shell_reply(self, msg: KernelMessage) -> None:
        """An execute_reply travelled to a client."""
        parent = msg.parent_msg_id
        if parent is not None:
            self._changed(self.notebook.handle_reply(parent, msg.content))
        self.executor.on_reply(msg)

    def on_dataflow(self, reasons: dict[str, list[dict[str, Any]]]) -> None:
        """The dataflow service recomputed which cells are stale (and why)."""
        self._changed(self.notebook.mark_stale_because(reasons))

    def note_kernel_message(self) -> None:
        """The kernel sent a message on a channel other than iopub (passing to a client)."""
        self._numbers.note_other()

    # -- pending input (stdin) -----------------------------------------------------------------

    def on_input_request(self, msg: KernelMessage) -> None:
        """The kernel asked for input, to a client's request (seen by the tap) or to our own
        (HTTP executions): kept on the cell until answered, so any page or client can answer."""
        parent = msg.parent_msg_id
        if parent is None:
            return
        content = msg.content
        prompt, password = content.get("prompt", ""), content.get("password", False)
        changed = self.notebook.set_input_request(
            parent, prompt if isinstance(prompt, str) else str(prompt), password is True
        )
        if changed:
            self._input_requests[parent] = msg.header
            self._changed(changed)
        self.executor.on_stdin(msg)

    def on_input_reply(self) -> None:
        """A client answered the kernel's input request on its own stdin channel."""
        self._answered()

    def pending_input(self) -> ShadowCell | None:
        """The cell whose run waits for input now (the latest asked), or None."""
        for msg_id in reversed(self._input_requests):
            cell = self.notebook.by_msg_id(msg_id)
            if cell is not None and cell.input_request is not None:
                return cell
        self._input_requests.clear()
        return None

    def answer_input(self, value: str) -> ShadowCell | None:
        """Send `value` as the input_reply to the pending input request, on the sidecar's
        own stdin channel; the answered cell, or None when nothing waits for input."""
        cell = self.pending_input()
        if cell is None:
            return None
        request = self._input_requests[cell.msg_id]
        shell = self.executor.shell
        reply = shell.session.msg("input_reply", {"value": value}, parent={"header": request})
        shell.send_stdin(reply)
        self._answered()
        return cell

    def _answered(self) -> None:
        """The kernel reads one input at a time: whatever answered it, nothing waits now."""
        requests, self._input_requests = self._input_requests, {}
        for msg_id in requests:
            self._changed(self.notebook.clear_input_request(msg_id))

    def on_iopub(self, msg: KernelMessage) -> None:
        if self._watch_iopub is not None:
            self._watch_iopub(msg)
        self._numbers.count()
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
            self.last_executed = parent_id
            self._on_executed(self, self._inputs.pop(parent_id))

    def _track_gaps(self, msg: KernelMessage) -> None:
        """Detect lost iopub messages. From ordering: one kernel PUB socket sends in order
        and the main shell runs one request at a time, so a request going busy while an
        earlier one never went idle means that idle (and maybe outputs) was dropped on the
        way. From message numbers (protocol/numbers.py): outputs dropped in between."""
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
                    "kernel %s dropped about %d iopub messages of %s "
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
        """Hand the cells changed since the last flush to the listener, once each; then the
        executions that ended meanwhile to the finished listener.

        Whether a page watched an execution end is decided here, once per batch, not per
        message: a cell that ended while no client websocket of the kernel was open is
        marked `unwatched` before it is stored, so a page opened later can say what ran."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._dirty:
            return
        finished = self.notebook.take_finished()
        for cell in finished:
            cell.unwatched = not self._watched_at(cell.ended)
        cells = list(self._dirty.values())
        self._dirty.clear()
        self._on_change(self, cells)
        if finished and self._on_finished is not None:
            self._on_finished(self, finished)

    def _watched_at(self, when: float | None) -> bool:
        """Whether a client websocket was open at `when` (recent past: the last change of
        the set of clients is known, which covers a flush interval)."""
        after_change = when is None or when >= self._clients_since
        return bool(self._clients) == after_change
