"""The server's kernel activity tracking, fed by the sidecar's iopub subscription.

The sidecar already receives every iopub message, so it keeps `last_activity` and
`execution_state` itself, with the server's exact rules, and the server opens no watcher SUB
socket of its own for kernels the sidecar records (README "Performance"). The seam is the
kernel manager's public start/stop_watching_activity pair, which the server calls at kernel
start, after a restart on new ports and at shutdown: the tracker takes its place on the manager
instance (not the class) while the extension runs; the server's own methods serve what the
sidecar cannot take. A gateway's kernel manager never watches: the gateway keeps activity.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from traitlets import Bool
from traitlets.config import LoggingConfigurable

from .._tz import utcnow
from ..protocol.message import KernelMessage

if TYPE_CHECKING:
    from ..registry import SidecarRegistry


class KernelActivity:
    """One kernel's activity markers, updated from each iopub message as the server would.

    `last_activity` is stamped once per batch of messages (at the end of the loop turn that
    handed them out) rather than once per message: two traitlets set per message were a
    tenth of the server's CPU under flooding kernels, for timestamps that differ by
    microseconds."""

    __slots__ = ("_kernel", "_kernel_id", "_log", "_manager", "_stamp_due", "_untracked")

    def __init__(self, manager: Any, kernel_id: str, log: logging.Logger) -> None:
        self._manager = manager
        self._kernel_id = kernel_id
        self._kernel = manager.get_kernel(kernel_id)
        self._untracked = frozenset(manager.untracked_message_types)
        self._log = log
        self._kernel.reason = ""
        self._kernel.last_activity = utcnow()
        self._stamp_due = False

    def record(self, msg: KernelMessage) -> None:
        """Mirror of the server's `record_activity`: user-initiated traffic (or anything while
        busy) is activity; status follows tracked requests, and the first status after a
        start reads as idle whatever caused it."""
        kernel = self._kernel
        msg_type = msg.msg_type
        parent_type = msg.parent_msg_type
        untracked = self._untracked
        if (
            msg_type not in untracked
            or parent_type not in untracked
            or kernel.execution_state == "busy"
        ):
            self._stamp_later()
        if msg_type != "status":
            return
        state = msg.content.get("execution_state")
        if not isinstance(state, str):
            return
        if parent_type not in untracked:
            kernel.execution_state = state
        elif kernel.execution_state == "starting" and state != "starting":
            kernel.execution_state = "idle"
        self._log.debug("activity on %s: status (%s)", self._kernel_id, kernel.execution_state)

    def _stamp_later(self) -> None:
        if self._stamp_due:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not on the server's loop: now
            self._stamp()
            return
        self._stamp_due = True
        loop.call_soon(self._stamp)

    def _stamp(self) -> None:
        self._stamp_due = False
        self._manager.last_kernel_activity = self._kernel.last_activity = utcnow()


class ActivityTracker(LoggingConfigurable):
    """Takes over the kernel manager's activity watching for the kernels the sidecar records
    (`c.ActivityTracker.*`)."""

    enabled = Bool(
        True,
        config=True,
        help="Keep the server's kernel activity markers (last_activity, execution_state, "
        "used by the culler and the kernels API) from the sidecar's iopub subscription, "
        "instead of a second subscription per kernel that decodes every message again.",
    )

    def __init__(self, manager: Any, registry: SidecarRegistry, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._manager = manager
        self._registry = registry
        self._server_start: Callable[[str], None] | None = None
        self._server_stop: Callable[[str], None] | None = None
        self._watched: set[str] = set()

    def install(self) -> None:
        """Route the manager's start/stop_watching_activity through the sidecar (if enabled)."""
        manager = self._manager
        if not self.enabled or self._server_start is not None:
            return
        if not hasattr(manager, "start_watching_activity"):
            return
        self._server_start = manager.start_watching_activity
        self._server_stop = manager.stop_watching_activity
        manager.start_watching_activity = self.start_watching
        manager.stop_watching_activity = self.stop_watching

    def uninstall(self) -> None:
        """Give watching back to the server, which watches the live kernels again itself."""
        if self._server_start is None:
            return
        manager = self._manager
        del manager.start_watching_activity
        del manager.stop_watching_activity
        server_start, self._server_start, self._server_stop = self._server_start, None, None
        for kernel_id in sorted(self._watched):
            sidecar = self._registry.get(kernel_id)
            if sidecar is not None:
                sidecar.watch_iopub(None)
            if kernel_id in manager:
                server_start(kernel_id)
        self._watched.clear()

    def start_watching(self, kernel_id: str) -> None:
        assert self._server_start is not None
        try:
            sidecar = self._registry.adopt(kernel_id)
            if sidecar is not None:
                sidecar.watch_iopub(KernelActivity(self._manager, kernel_id, self.log).record)
                self._watched.add(kernel_id)
                return
        except Exception:  # never leave a kernel unwatched: the server's watcher takes it
            self.log.exception("cannot track activity of %s", kernel_id)
        self._server_start(kernel_id)

    def stop_watching(self, kernel_id: str) -> None:
        assert self._server_stop is not None
        if kernel_id in self._watched:
            self._watched.discard(kernel_id)
            sidecar = self._registry.get(kernel_id)
            if sidecar is not None:
                sidecar.watch_iopub(None)
        # Closes a socket the server opened itself, and runs its pending restart cleanup.
        self._server_stop(kernel_id)
