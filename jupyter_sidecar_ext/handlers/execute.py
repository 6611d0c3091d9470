"""`POST /api/sidecar/kernels/{kernel_id}/execute`: run code over plain HTTP (execution/http.py).

Body `{code, cell_id?, timeout?}` -> `{status, execution_count, outputs, msg_id, message?}`;
with `Accept: application/x-ndjson`, one JSON line per message as it arrives, then the
execute_reply, then that result. A timeout after lines were sent cannot change the HTTP status
any more, so it ends the stream with a result line of status "timeout". README "REST API" has
the line format and the error answers (503 also while a gateway kernel's connection is down).
The stream honours backpressure and what waits for the client is bounded by `max_output_bytes`
(execution/outbox.py: a `{"type": "truncated", ...}` line says what was dropped).
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web
from tornado.iostream import StreamClosedError

from ..execution.http import ExecutionTimeout, HttpExecution, InputPending
from ..execution.outbox import LineOutbox
from ..schemas.api import ErrorBody, ExecuteRequest, ExecuteResult, StreamLine
from ..schemas.api import InputPending as InputPendingBody
from ..schemas.openapi import Operation
from ..sidecar import KernelSidecar
from .base import SidecarHandler

NDJSON = "application/x-ndjson"


def input_pending_body(kernel_id: str, pending: InputPending) -> InputPendingBody:
    message = (
        f"The code waits for input: {pending.prompt!r}. Answer it with "
        f"POST /api/sidecar/kernels/{kernel_id}/input {{value}} (or interrupt the kernel)."
    )
    request = {"prompt": pending.prompt, "password": pending.password}
    return InputPendingBody.model_validate(
        {"message": message, "msg_id": pending.msg_id, "input_request": request}
    )


class ExecuteHandler(SidecarHandler):
    """Running code is what a kernel websocket is for: authorized as `execute` on kernels."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "post",
            "Run code in the kernel",
            ExecuteResult,
            body=ExecuteRequest,
            errors=(400, 404, 409, 413, 503, 504),
            streams=StreamLine,
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def post(self, kernel_id: str) -> None:
        request = self.validated_body(ExecuteRequest)
        if request is None:
            return
        sidecar = await self._ready_sidecar(kernel_id)
        outbox = None
        if NDJSON in self.request.headers.get("Accept", ""):
            outbox = LineOutbox(self.services.registry.max_output_bytes)
        execution = HttpExecution(sidecar.executor, request.code, request.cell_id, outbox)

        async def interrupt() -> None:
            manager: Any = self.kernel_manager  # async in the server, typed sync upstream
            await ensure_async(manager.interrupt_kernel(kernel_id))

        if outbox is None:
            result = await self._run(kernel_id, execution, request.timeout, interrupt)
            if result is not None:
                self.write_answer(ExecuteResult, result)
            return
        writer = asyncio.create_task(self._send_lines(outbox))
        try:
            await self._run_streamed(execution, outbox, request.timeout, interrupt)
        finally:
            outbox.close()
            if not writer.done() and outbox.put_count == 0:
                outbox.abandon()  # an error answer instead: nothing was written
            await writer
        if not self._finished:
            self.finish()

    async def _run(
        self, kernel_id: str, execution: HttpExecution, timeout: float | None, interrupt: Any
    ) -> dict[str, Any] | None:
        """The result, or None once a 504 (or the 409 of a pending input) has been written."""
        try:
            return await execution.run(timeout, interrupt)
        except RuntimeError as error:  # the kernel's shell channel could not be reached
            raise web.HTTPError(503, str(error)) from None
        except InputPending as pending:  # JSON mode: the run waits for POST .../input
            self.write_model(input_pending_body(kernel_id, pending), status=409)
            return None
        except ExecutionTimeout as ended:
            self.write_model(ErrorBody(message=ended.message), status=504)
            return None

    async def _run_streamed(
        self, execution: HttpExecution, outbox: LineOutbox, timeout: float | None, interrupt: Any
    ) -> None:
        try:
            await execution.run(timeout, interrupt)  # its result was put as the last line
        except RuntimeError as error:
            raise web.HTTPError(503, str(error)) from None
        except ExecutionTimeout as ended:
            if not outbox.put_count:
                self.write_model(ErrorBody(message=ended.message), status=504)
                return
            line = ExecuteResult(
                status="timeout",
                execution_count=None,
                outputs=[],
                msg_id=execution.msg_id,
                message=ended.message,
            )
            outbox.put(line.model_dump(mode="json", exclude_unset=True), keep=True)

    async def _send_lines(self, outbox: LineOutbox) -> None:
        """Hand the lines to the socket a batch at a time, each once it took the previous
        one (the backpressure); a client that went away ends it, the run goes on."""
        started = False
        while (batch := await outbox.take()) is not None:
            if self._finished or self.request.connection is None:
                break
            if not started:
                started = True
                self.set_header("Content-Type", NDJSON)
                self.set_header("Cache-Control", "no-cache")
            self.write(batch)
            try:
                await self.flush()
            except StreamClosedError:
                break
        outbox.abandon()

    async def _ready_sidecar(self, kernel_id: str) -> KernelSidecar:
        if kernel_id not in self.kernel_manager:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        km = self.kernel_manager.get_kernel(kernel_id)
        if getattr(km, "execution_state", None) == "dead":
            raise web.HTTPError(409, f"Kernel {kernel_id} is dead")
        sidecar = await self.services.registry.ensure(kernel_id)
        if sidecar is None:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        if not sidecar.alive:
            raise web.HTTPError(409, f"Kernel {kernel_id} is shut down")
        await self.until_receiving(sidecar)
        if not sidecar.channels.connected:
            # e.g. a gateway kernel's shell channel is its recorder's websocket: reconnecting
            raise web.HTTPError(503, f"The connection to kernel {kernel_id} is down")
        return sidecar
