"""KernelExecutor: what one kernel's sidecar does about executions it is asked to run or
hold, beside recording them: the execution queue, the sidecar's own shell channel, and the
watchers of HTTP executions.

The sidecar calls in on its recorder path (after the clients have been served), never on the
kernel->client hot path: `on_iopub` costs a dict lookup per recorded message while something
runs or is watched, nothing otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from ..channels.base import ShellChannel
from ..protocol.frames import shell_header_from_ws
from ..protocol.message import KernelMessage
from ..record.shadow import ShadowCell, ShadowNotebook
from .queue import ExecutionQueue, QueueEntry
from .websocket import websocket_entry

ChangeCallback = Callable[[list[ShadowCell]], None]


class MessageWatcher(Protocol):
    """Follows one request's messages (an HTTP execution)."""

    def on_message(self, channel: str, msg: KernelMessage) -> None: ...

    def on_restart(self) -> None: ...

    def on_lost(self) -> None: ...


class KernelExecutor:
    """The execution queue and own shell channel of one kernel (see the module doc)."""

    def __init__(
        self,
        kernel_manager: Any,
        notebook: ShadowNotebook,
        on_change: ChangeCallback,
        log: logging.Logger,
        queue_enabled: bool,
        shell: ShellChannel,
    ) -> None:
        """`shell` is the sidecar's own shell channel (channels/), whose replies reach
        `on_reply` through the sidecar's reply handling."""
        self._km = kernel_manager
        self._notebook = notebook
        self._on_change = on_change
        self._log = log
        self.shell = shell
        self.queue = ExecutionQueue(self, log, enabled=queue_enabled)
        self._watchers: dict[str, MessageWatcher] = {}
        add_callback = getattr(kernel_manager, "add_restart_callback", None)
        if add_callback is not None:  # the restarter's automatic restarts fire no event
            add_callback(self.on_restarted, "restart")

    # -- wiring from the sidecar -----------------------------------------------------------

    def hold(self, connection: Any, frame: str | bytes, v1: bool) -> bool:
        """Hold a websocket client's execute_request in the queue (True), or leave it to be
        forwarded now (False: queue off, unreadable frame, or a subshell request)."""
        if not self.queue.enabled:
            return False
        allowed = getattr(connection.multi_kernel_manager, "allowed_message_types", None)
        if allowed and "execute_request" not in allowed:
            return False  # the server drops it: never wait for its answer
        entry = websocket_entry(connection, frame, v1, self.shell)
        if entry is None:
            return False
        self.queue.submit(entry)
        return True

    def follow(self, connection: Any, frame: str | bytes, v1: bool) -> bool:
        """Hold a client's other shell request behind the executions waiting before it
        (True), so the kernel gets its shell requests in the order they were sent; False:
        nothing waits (the usual case, decided before any decoding), or it is not a main
        shell request (control, stdin, subshells run beside the queue)."""
        if not len(self.queue):
            return False
        header = shell_header_from_ws(frame, v1)
        if header is None or header.get("subshell_id"):
            return False
        return self.queue.follow(lambda: connection.send_to_kernel(frame))

    def on_reply(self, msg: KernelMessage) -> None:
        """An execute_reply, from any client's shell stream or our own."""
        parent = msg.parent_msg_id
        if parent is None:
            return
        if self.queue.running is not None:
            status = msg.content.get("status")
            self.queue.on_reply(parent, status if isinstance(status, str) else "error")
        watcher = self._watchers.get(parent)
        if watcher is not None:
            watcher.on_message("shell", msg)

    def on_iopub(self, msg: KernelMessage) -> None:
        """A recorded iopub message (the shadow model has seen it already)."""
        running = self.queue.running
        if running is None and not self._watchers:
            return
        parent = msg.parent_msg_id
        if parent is None:
            return
        if running is not None and parent == running.msg_id:
            running.activity += 1
            if msg.msg_type == "status" and msg.content.get("execution_state") == "idle":
                self.queue.on_idle(parent)
        watcher = self._watchers.get(parent)
        if watcher is not None:
            watcher.on_message("iopub", msg)

    def on_stdin(self, msg: KernelMessage) -> None:
        """An input_request: the watcher of its execution hears of it."""
        parent = msg.parent_msg_id
        watcher = None if parent is None else self._watchers.get(parent)
        if watcher is not None:
            watcher.on_message("stdin", msg)

    def on_lost(self, msg_ids: list[str]) -> None:
        """These requests ended while their iopub could not be seen (a gateway kernel's
        recorder was reconnecting): their idles will never come, so act as if they had."""
        for msg_id in msg_ids:
            running = self.queue.running
            if running is not None and running.msg_id == msg_id:
                self.queue.on_idle(msg_id)
            watcher = self._watchers.get(msg_id)
            if watcher is not None:
                watcher.on_lost()

    def on_restarted(self) -> None:
        """Nothing queued or running will be answered; the own channel follows new ports."""
        self.queue.clear()
        self.shell.close()
        for watcher in list(self._watchers.values()):
            watcher.on_restart()

    def close(self) -> None:
        """The kernel is gone."""
        self.on_restarted()
        remove_callback = getattr(self._km, "remove_restart_callback", None)
        if remove_callback is not None:
            remove_callback(self.on_restarted, "restart")

    # -- HTTP executions --------------------------------------------------------------------

    def watch(self, msg_id: str, watcher: MessageWatcher) -> None:
        self._watchers[msg_id] = watcher

    def unwatch(self, msg_id: str) -> None:
        self._watchers.pop(msg_id, None)

    def record_request(self, msg_id: str, code: str, cell_id: str | None) -> ShadowCell:
        """Record a request in the shadow model (as an intercepted websocket one is)."""
        cell = self._notebook.add_request(msg_id, code, cell_id)
        self._on_change([cell])
        return cell

    # -- QueueHost ----------------------------------------------------------------------------

    def status_of(self, msg_id: str) -> str:
        cell = self._notebook.by_msg_id(msg_id)
        return "ok" if cell is None or cell.status not in ("error", "aborted") else cell.status

    def request_aborted(self, entry: QueueEntry) -> None:
        self._on_change(self._notebook.handle_reply(entry.msg_id, {"status": "aborted"}))

    def kernel_stopping(self) -> bool:
        return bool(getattr(self._km, "shutting_down", False))

    def request_lost(self, entry: QueueEntry) -> None:
        self._on_change(self._notebook.mark_gap(entry.msg_id))
        idle = {"execution_state": "idle"}
        self._on_change(self._notebook.handle_iopub("status", entry.msg_id, idle))
