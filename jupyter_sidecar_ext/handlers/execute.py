"""`POST /api/sidecar/kernels/{kernel_id}/execute`: run code over plain HTTP (execution/http.py).

Body `{code, cell_id?, timeout?}` -> `{status, execution_count, outputs, msg_id, message?}`;
with `Accept: application/x-ndjson`, one JSON line per message as it arrives, then the
execute_reply, then that result. A timeout after lines were sent cannot change the HTTP status
any more, so it ends the stream with a result line of status "timeout". README "REST API" has
the line format and the error answers (503 also while a gateway kernel's connection is down).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, ClassVar

from jupyter_client.jsonutil import json_default
from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..execution.http import ExecutionTimeout, HttpExecution, InputPending
from ..schemas.api import ErrorBody, ExecuteRequest, ExecuteResult, StreamedMessage
from ..schemas.api import InputPending as InputPendingBody
from ..schemas.openapi import Operation
from ..sidecar import KernelSidecar
from .base import Services, SidecarHandler

NDJSON = "application/x-ndjson"
READY_WAIT = 10.0  # seconds to wait for a restarting kernel's recorder before a 503


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
            streams=StreamedMessage,
        ),
    )

    def initialize(self, services: Services) -> None:
        super().initialize(services)
        self._streaming = False
        self._lines_sent = 0
        self._done = False  # the response has been finished: late lines are dropped

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def post(self, kernel_id: str) -> None:
        request = self.validated_body(ExecuteRequest)
        if request is None:
            return
        sidecar = await self._ready_sidecar(kernel_id)
        self._streaming = NDJSON in self.request.headers.get("Accept", "")
        execution = HttpExecution(
            sidecar.executor,
            request.code,
            request.cell_id,
            on_line=self._write_line if self._streaming else None,
        )

        async def interrupt() -> None:
            manager: Any = self.kernel_manager  # async in the server, typed sync upstream
            await ensure_async(manager.interrupt_kernel(kernel_id))

        try:
            result = await execution.run(request.timeout, interrupt)
        except RuntimeError as error:  # the kernel's shell channel could not be reached
            raise web.HTTPError(503, str(error)) from None
        except InputPending as pending:  # JSON mode: the run waits for POST .../input
            self.write_model(input_pending_body(kernel_id, pending), status=409)
            return
        except ExecutionTimeout as timeout:
            if not self._lines_sent:
                self.write_model(ErrorBody(message=timeout.message), status=504)
                return
            ended = ExecuteResult(
                status="timeout",
                execution_count=None,
                outputs=[],
                msg_id=execution.msg_id,
                message=timeout.message,
            )
            self._write_line(ended.model_dump(mode="json", exclude_unset=True))
            self.finish()
            return
        if self._streaming:
            self.finish()  # the result was the last line
        else:
            self.write_answer(ExecuteResult, result)

    def on_finish(self) -> None:
        self._done = True

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
        if not sidecar.receiving:  # restarting: give it a moment, then say so
            try:
                await asyncio.wait_for(sidecar.until_receiving(), READY_WAIT)
            except asyncio.TimeoutError:
                raise web.HTTPError(503, f"Kernel {kernel_id} is not ready") from None
        if not sidecar.channels.connected:
            # e.g. a gateway kernel's shell channel is its recorder's websocket: reconnecting
            raise web.HTTPError(503, f"The connection to kernel {kernel_id} is down")
        return sidecar

    def _write_line(self, item: dict[str, Any]) -> None:
        if self._done or self.request.connection is None:
            return
        if not self._lines_sent:
            self.set_header("Content-Type", NDJSON)
            self.set_header("Cache-Control", "no-cache")
        self._lines_sent += 1
        self.write(json.dumps(item, default=json_default) + "\n")
        # A client that went away fails the flush: nothing to do about it, the run goes on.
        self.flush().add_done_callback(lambda done: done.exception())
