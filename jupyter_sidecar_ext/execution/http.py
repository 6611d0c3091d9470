"""One execution asked for over HTTP (`POST /api/sidecar/kernels/{id}/execute`).

The execute_request is sent on the sidecar's own shell channel through the kernel's execution
queue, like a websocket client's (in order with notebook cells, listed with source "http").
Its iopub messages come from the kernel's one recorder subscription, matched by parent msg_id
(no SUB socket of its own), and its outputs are the shadow model's cell for the run, so they
follow exactly the shadow model's rules. `stop_on_error` is false unless asked (a dataflow
plan's cells): an HTTP client's error must not abort the notebook cells queued behind it.
`allow_stdin` is true: an input request reaches the sidecar's own stdin channel and waits on the
cell until `POST .../input` answers it (a streamed run shows it as a line and goes on waiting,
within its timeout; a JSON one ends with InputPending, the run still waiting in the kernel).
README "REST API" has the answers for input requests, timeouts (queued: taken out; running:
interrupted; sent but not started: left to run) and aborted runs.
A streamed execution puts each message as a line in a bounded `LineOutbox` (outbox.py); the
reply and the result are put last and never dropped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from ..protocol.message import KernelMessage
from ..record.shadow import ShadowCell
from .executor import KernelExecutor
from .outbox import LineOutbox
from .queue import FINISH_GRACE, QueueEntry, Source

Interrupt = Callable[[], Awaitable[Any]]

ABORTED = "The execution was aborted before it ran (taken out of the queue, or an earlier "
ABORTED += "cell failed)."
RESTARTED = "The kernel restarted or shut down before the execution finished."


class InputPending(Exception):
    """A run not streamed asked for input: it waits in the kernel for `POST .../input`."""

    def __init__(self, msg_id: str, prompt: str, password: bool) -> None:
        super().__init__(prompt)
        self.msg_id, self.prompt, self.password = msg_id, prompt, password


class ExecutionTimeout(Exception):
    """The execution did not finish in time; `message` says what became of it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def message_line(channel: str, msg: KernelMessage) -> dict[str, Any]:
    """A kernel message as one NDJSON line (binary buffers are not carried)."""
    header = msg.header
    return {
        "channel": channel,
        "msg_type": msg.msg_type,
        "msg_id": header.get("msg_id"),
        "header": header,
        "parent_header": msg.parent_header,
        "metadata": msg.metadata,
        "content": msg.content,
    }


class HttpExecution:
    """Sends one execute_request and gathers what answers it (see the module doc)."""

    source: Source = "http"

    def __init__(
        self,
        executor: KernelExecutor,
        code: str,
        cell_id: str | None = None,
        outbox: LineOutbox | None = None,
        grace: float = FINISH_GRACE,
        stop_on_error: bool = False,
    ) -> None:
        """`stop_on_error`: a failure aborts what is queued behind it (a dataflow plan's
        later cells need this one's results); off for a lone HTTP execution."""
        self._executor = executor
        self._code = code
        self._cell_id = cell_id
        self._outbox = outbox
        self._grace = grace
        self._stop_on_error = stop_on_error
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": True,
            "stop_on_error": stop_on_error,
        }
        metadata = {"cellId": cell_id} if cell_id else {}
        self.request = executor.shell.session.msg("execute_request", content, metadata=metadata)
        self.msg_id: str = self.request["header"]["msg_id"]
        self.started = False  # the kernel began running it (busy or execute_input seen)
        self._cell: ShadowCell | None = None
        self._reply: dict[str, Any] | None = None
        self._reply_line: dict[str, Any] | None = None
        self._idle = False
        self._activity = 0
        self._timer: asyncio.TimerHandle | None = None
        self._outcome: asyncio.Future[tuple[str, str | None]] | None = None
        self._input: dict[str, Any] = {}  # the input_request that ended a JSON-mode run

    async def run(self, timeout: float | None, interrupt: Interrupt) -> dict[str, Any]:
        """Execute and answer `{status, execution_count, outputs, msg_id[, message]}`;
        ExecutionTimeout after `timeout` seconds (None: no limit)."""
        self._outcome = asyncio.get_running_loop().create_future()
        self._cell = self._executor.record_request(self.msg_id, self._code, self._cell_id)
        self._executor.watch(self.msg_id, self)
        try:
            queue = self._executor.queue
            if queue.enabled:
                queue.submit(self._entry())  # a failed send is answered as aborted
            else:
                try:
                    self.forward()
                except Exception as error:
                    raise RuntimeError(f"Could not send to the kernel: {error}") from error
            try:
                status, message = await asyncio.wait_for(asyncio.shield(self._outcome), timeout)
            except asyncio.TimeoutError:
                raise ExecutionTimeout(await self._give_up(timeout, interrupt)) from None
        finally:
            self._executor.unwatch(self.msg_id)
            self._cancel_timer()
        if status == "input":
            prompt = self._input.get("prompt")
            password = self._input.get("password") is True
            raise InputPending(self.msg_id, prompt if isinstance(prompt, str) else "", password)
        return self._result(status, message)

    def _entry(self) -> QueueEntry:
        return QueueEntry(
            msg_id=self.msg_id,
            code=self._code,
            cell_id=self._cell_id,
            session=self.request["header"]["session"],
            header=self.request["header"],
            sender=self,
            stop_on_error=self._stop_on_error,
        )

    def _result(self, status: str, message: str | None) -> dict[str, Any]:
        reply = self._reply or {}
        count = reply.get("execution_count")
        result: dict[str, Any] = {
            "status": status,
            "execution_count": count if isinstance(count, int) else None,
            "outputs": [] if self._cell is None else self._cell.outputs,
            "msg_id": self.msg_id,
        }
        if message is not None:
            result["message"] = message
        if self._outbox is not None:
            if self._reply_line is not None:
                self._outbox.put(self._reply_line, keep=True)
            self._outbox.put(result, keep=True)
        return result

    async def _give_up(self, timeout: float | None, interrupt: Interrupt) -> str:
        what = f"The execution did not finish within {timeout} s"
        if self._executor.queue.discard(self.msg_id):
            return f"{what}: it was still queued, and was taken out of the queue."
        if self.started and self._reply is None:
            try:
                await interrupt()
            except Exception as error:  # the 504 still says what happened
                return f"{what}, and interrupting the kernel failed: {error}"
            return f"{what}: the kernel was interrupted."
        return f"{what}; it was sent to the kernel, which will still run it."

    @property
    def finished(self) -> bool:
        return self._outcome is not None and self._outcome.done()

    # -- QueueSender ---------------------------------------------------------------------------

    def forward(self) -> None:
        self._executor.shell.send(self.request)

    def reply_observable(self) -> bool:
        return True

    def aborted(self, entry: QueueEntry, running: QueueEntry | None) -> None:
        reply = self._executor.shell.session.msg(
            "execute_reply", {"status": "aborted"}, parent=self.request
        )
        self._reply_line = {"channel": "shell", "msg_id": reply["header"]["msg_id"], **reply}
        self._end("aborted", ABORTED)

    def dropped(self, entry: QueueEntry) -> None:
        self._end("aborted", RESTARTED)

    # -- MessageWatcher -------------------------------------------------------------------------

    def on_message(self, channel: str, msg: KernelMessage) -> None:
        line = message_line(channel, msg) if self._outbox is not None else None
        if channel == "shell":
            if msg.msg_type == "execute_reply" and self._reply is None:
                self._reply, self._reply_line = msg.content, line
                if self._idle:
                    self._settle()
                else:
                    self._arm()
            return
        if channel == "stdin":
            if msg.msg_type == "input_request":
                self._input_requested(msg, line)
            return
        self._activity += 1
        if self._outbox is not None and line is not None and not self.finished:
            self._outbox.put(line)
        msg_type = msg.msg_type
        if msg_type in ("status", "execute_input"):
            self.started = True
            if msg_type == "status" and msg.content.get("execution_state") == "idle":
                self._idle = True
                if self._reply is not None:
                    self._settle()

    def on_restart(self) -> None:
        self._end("aborted", RESTARTED)

    def on_lost(self) -> None:
        """It ended unseen (its idle was lost): settle with its reply, or, if that does not
        follow either, with what the shadow model recorded."""
        self.started = self._idle = True
        if self._reply is not None:
            self._settle()
        else:
            self._arm()

    def _input_requested(self, msg: KernelMessage, line: dict[str, Any] | None) -> None:
        """Streamed: a line, and the run waits for the answer. JSON: the run ends here."""
        if self._outbox is not None and line is not None:
            if not self.finished:
                self._outbox.put(line, keep=True)  # the client must see what it is asked
            return
        self._input = msg.content
        self._end("input", None)

    # -- internals -----------------------------------------------------------------------------

    def _settle(self) -> None:
        status = (self._reply or {}).get("status")
        if self._reply is None and self._cell is not None:  # its reply was lost
            status = self._cell.status
        self._end(status if status in ("ok", "error", "aborted") else "error", None)

    def _end(self, status: str, message: str | None) -> None:
        self._cancel_timer()
        if self._outcome is not None and not self._outcome.done():
            self._outcome.set_result((status, message))

    def _arm(self) -> None:
        """The reply came first: wait for the idle, but not forever if it was lost."""
        self._cancel_timer()
        seen = self._activity
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._grace, self._grace_expired, seen)

    def _grace_expired(self, seen: int) -> None:
        self._timer = None
        if self._activity != seen:
            self._arm()  # outputs still arriving
        else:
            self._settle()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
