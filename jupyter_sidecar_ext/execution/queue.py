"""The server-side execution queue of one kernel: execute_requests held by the server and
sent to the kernel one at a time, in order, so a waiting one can be taken out without
interrupting the kernel (jupyterlab#7825: today that aborts every queued cell).

It keeps a plain kernel's semantics (README "Execution queue" has the rules): the next request
goes at the previous one's execute_reply, an error aborts the waiting ones when ipykernel
would (unless the running one was interrupted with "continue": `spare_running`), other shell
requests follow the execution sent before them, restart drops everything,
and a lost reply or idle finishes its request after `FINISH_GRACE` seconds of iopub quiet
instead of wedging the queue. Pure bookkeeping (no frames, no sockets): senders reach the
kernel and their client, the host (the kernel's executor) updates the shadow model.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .._tz import isoformat

__all__ = ["FINISH_GRACE", "ExecutionQueue", "QueueConflict", "QueueEntry", "QueueSender"]

Source = Literal["websocket", "http"]

# Seconds of iopub quiet after the reply (idle missing) or after the idle (reply missing)
# before a request is taken as finished anyway.
FINISH_GRACE = 2.0


class QueueSender(Protocol):
    """Who asked for an execution, and how to reach the kernel and the asker."""

    source: Source

    def forward(self) -> None:
        """Send the request to the kernel now."""

    def reply_observable(self) -> bool:
        """Whether the request's execute_reply will be seen by the server."""

    def aborted(self, entry: QueueEntry, running: QueueEntry | None) -> None:
        """Tell the asker its request was aborted (as ipykernel would answer it)."""

    def dropped(self, entry: QueueEntry) -> None:
        """The kernel restarted or went away before answering: tell nothing a plain kernel
        would not, but let server-side waiters go."""


class QueueHost(Protocol):
    """What the queue needs from the kernel's executor (the shadow model, mostly)."""

    def status_of(self, msg_id: str) -> str:
        """The status iopub showed for a request (when its reply cannot be seen)."""

    def request_aborted(self, entry: QueueEntry) -> None:
        """A waiting request was aborted (dequeued, or after an error)."""

    def request_lost(self, entry: QueueEntry) -> None:
        """A request finished without its idle or its reply: messages were lost."""

    def kernel_stopping(self) -> bool:
        """Whether the kernel is being shut down or restarted (the queue then waits for
        `clear`: nothing more is sent to a kernel on its way out)."""


class QueueConflict(Exception):
    """The request cannot be removed: it is running, or the queue is off."""


@dataclass(eq=False)
class QueueEntry:
    """One held execute_request and what has been seen of it since it was forwarded."""

    msg_id: str
    code: str
    cell_id: str | None
    session: str
    header: dict[str, Any]
    sender: QueueSender
    silent: bool = False
    stop_on_error: bool = True
    queued_at: float = field(default_factory=time.time)
    reply_status: str | None = None
    idle: bool = False
    activity: int = 0  # iopub messages seen for it while running
    # interrupted with "continue": its error does not abort the waiting ones
    spares_queue: bool = False
    # other shell requests sent after it, before the next execution: sent right after it
    followers: list[Callable[[], None]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "msg_id": self.msg_id,
            "cell_id": self.cell_id,
            "code": self.code,
            "session": self.session,
            "source": self.sender.source,
            "queued_at": isoformat(self.queued_at),
        }


def _kernel_aborts(entry: QueueEntry, status: str) -> bool:
    """Whether ipykernel aborts its queue after this request (`execute_request`)."""
    return status == "error" and entry.stop_on_error and not entry.silent


def _aborts_queue(entry: QueueEntry, status: str) -> bool:
    """Whether the waiting requests are aborted after this one: as ipykernel would, unless
    the user interrupted it to let the rest go on."""
    return _kernel_aborts(entry, status) and not entry.spares_queue


class ExecutionQueue:
    """FIFO of one kernel's held execute_requests; the head is the one the kernel runs."""

    def __init__(
        self,
        host: QueueHost,
        log: logging.Logger,
        enabled: bool = True,
        grace: float = FINISH_GRACE,
    ) -> None:
        self.enabled = enabled
        self.running: QueueEntry | None = None
        self._waiting: OrderedDict[str, QueueEntry] = OrderedDict()
        self._host = host
        self._log = log
        self._grace = grace
        self._timer: asyncio.TimerHandle | None = None
        self._armed_activity = 0
        self._doomed: set[str] | None = None  # msg_ids to abort at the running one's idle

    def __len__(self) -> int:
        """Requests waiting (not counting the running one)."""
        return len(self._waiting)

    def waiting(self) -> list[QueueEntry]:
        return list(self._waiting.values())

    def is_waiting(self, msg_id: str) -> bool:
        """Whether the request is held here, not sent to the kernel yet."""
        return msg_id in self._waiting

    def to_dict(self, kernel_id: str) -> dict[str, Any]:
        """The REST form: `{kernel_id, enabled, running, queued}`."""
        return {
            "kernel_id": kernel_id,
            "enabled": self.enabled,
            "running": None if self.running is None else self.running.to_dict(),
            "queued": [entry.to_dict() for entry in self._waiting.values()],
        }

    # -- requests ----------------------------------------------------------------------------

    def submit(self, entry: QueueEntry) -> None:
        """Hold a request; it is forwarded at once when nothing runs."""
        self._waiting[entry.msg_id] = entry
        self._next()

    def follow(self, send: Callable[[], None]) -> bool:
        """Hold another shell request behind the last waiting execution (True); False when
        nothing waits: send it now."""
        if not self.enabled or not self._waiting:
            return False
        next(reversed(self._waiting.values())).followers.append(send)
        return True

    def remove(self, msg_id: str) -> QueueEntry:
        """Take a waiting request out: its asker gets an aborted reply, nothing is
        interrupted. KeyError when unknown; QueueConflict when running or the queue is off."""
        if not self.enabled:
            raise QueueConflict("The execution queue is disabled on this server")
        if self.running is not None and self.running.msg_id == msg_id:
            raise QueueConflict(f"Request {msg_id} is running: interrupt the kernel instead")
        entry = self._take(msg_id)
        self._abort(entry)
        return entry

    def spare_running(self) -> QueueEntry | None:
        """An interrupt is about to be sent for the running request, to stop it alone: its
        error (KeyboardInterrupt) must not abort the waiting ones. The running entry, or None
        when nothing runs. QueueConflict when the queue is off (the kernel holds the rest)."""
        if not self.enabled:
            raise QueueConflict("The execution queue is disabled on this server")
        running = self.running
        if running is not None and running.reply_status is None:  # not after its own error
            running.spares_queue = True
        return running

    def discard(self, msg_id: str) -> bool:
        """Forget a waiting request without telling its asker (the asker gave up)."""
        if msg_id not in self._waiting:
            return False
        entry = self._take(msg_id)
        self._host.request_aborted(entry)
        self._release(entry)
        return True

    def clear(self) -> None:
        """Restart or shutdown: nothing waiting or running will be answered."""
        self._cancel_timer()
        self._doomed = None
        entries = [] if self.running is None else [self.running]
        entries.extend(self._waiting.values())
        self.running = None
        self._waiting.clear()
        for entry in entries:
            try:
                entry.sender.dropped(entry)
            except Exception:
                self._log.exception("a queued request's sender failed")

    # -- what the kernel says ----------------------------------------------------------------

    def on_reply(self, msg_id: str, status: str) -> None:
        entry = self.running
        if entry is None or entry.msg_id != msg_id or entry.reply_status is not None:
            return
        entry.reply_status = status
        if entry.idle or not _kernel_aborts(entry, status):
            self._finish(entry, status)
        elif entry.spares_queue:
            # The next one goes at its idle: ipykernel aborts execute_requests that reach it
            # until it leaves its aborting state, which it has entered before that idle.
            self._arm()
        else:
            # Abort the others after its idle, in ipykernel's order; but only those waiting
            # now: ipykernel aborts what it had received when it replied, not what a client
            # sends once it has seen the error (before iopub's idle reached the recorder,
            # which for a gateway kernel arrives on another websocket than the reply).
            self._doomed = set(self._waiting)
            self._arm()

    def on_idle(self, msg_id: str) -> None:
        entry = self.running
        if entry is None or entry.msg_id != msg_id or entry.idle:
            return
        entry.idle = True
        if entry.reply_status is not None:
            self._finish(entry, entry.reply_status)
        elif not entry.sender.reply_observable():
            self._finish(entry, self._host.status_of(msg_id))
        else:
            self._arm()

    # -- internals ---------------------------------------------------------------------------

    def _take(self, msg_id: str) -> QueueEntry:
        """Take a waiting request out; what followed it now follows the one before it."""
        ids = list(self._waiting)
        entry = self._waiting.pop(msg_id)
        index = ids.index(msg_id)
        if index > 0 and entry.followers:
            self._waiting[ids[index - 1]].followers.extend(entry.followers)
            entry.followers = []
        return entry

    def _release(self, entry: QueueEntry) -> None:
        """Send the shell requests that followed a request once it is sent or aborted."""
        followers, entry.followers = entry.followers, []
        for send in followers:
            try:
                send()
            except Exception:
                self._log.exception("could not send a held request")

    def _next(self) -> None:
        while self.running is None and self._waiting:
            _, entry = self._waiting.popitem(last=False)
            self.running = entry
            try:
                entry.sender.forward()
            except Exception:
                self._log.exception("could not send queued request")
                self.running = None
                self._abort(entry)
                continue
            self._release(entry)

    def _finish(self, entry: QueueEntry, status: str) -> None:
        self._cancel_timer()
        self.running = None
        if self._host.kernel_stopping():
            # its reply was lost to the shutdown: the rest will never be answered either,
            # and must not reach the kernel process that comes next (`clear` also runs on
            # the restart event, which may come after a client's next request)
            self.clear()
            return
        doomed, self._doomed = self._doomed, None
        if _aborts_queue(entry, status):
            aborted = [e for e in self._waiting.values() if doomed is None or e.msg_id in doomed]
            for waiting in aborted:
                del self._waiting[waiting.msg_id]
            for waiting in aborted:
                self._abort(waiting)
        self._next()

    def _abort(self, entry: QueueEntry) -> None:
        self._host.request_aborted(entry)
        try:
            entry.sender.aborted(entry, self.running)
        except Exception:
            self._log.exception("could not answer an aborted request")
        self._release(entry)

    def _arm(self) -> None:
        self._cancel_timer()
        if self.running is not None:
            self._armed_activity = self.running.activity
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._grace, self._grace_expired)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _grace_expired(self) -> None:
        self._timer = None
        entry = self.running
        if entry is None:
            return
        if entry.activity != self._armed_activity:  # outputs still coming: not lost
            self._arm()
            return
        if entry.idle and entry.reply_status is None and entry.sender.reply_observable():
            self._log.debug("no reply seen for %s", entry.msg_id)
        elif not entry.idle:
            self._log.warning("idle of %s lost", entry.msg_id)
            self._host.request_lost(entry)
        self._finish(entry, entry.reply_status or self._host.status_of(entry.msg_id))
