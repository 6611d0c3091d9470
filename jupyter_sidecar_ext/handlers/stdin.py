"""`POST /api/sidecar/kernels/{kernel_id}/input` `{value}`: answer the kernel's pending input().

The kernel sends an input_request only to the client whose request asked for it, so a page
reopened later, another page, or an HTTP client could not answer on its own stdin channel:
the sidecar sends the input_reply on its own (ipykernel takes it from any peer). 404 unknown
kernel, 409 when no run waits for input.
"""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas.api import InputAnswer, InputAnswered
from ..schemas.openapi import Operation
from .base import SidecarHandler


class InputHandler(SidecarHandler):
    """Answering input makes the kernel run on: authorized as `execute` on kernels."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "post",
            "Answer the kernel's pending input request",
            InputAnswered,
            body=InputAnswer,
            errors=(400, 404, 409, 413, 503),
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def post(self, kernel_id: str) -> None:
        answer = self.validated_body(InputAnswer)
        if answer is None:
            return
        sidecar = self.live_sidecar(kernel_id)
        if sidecar is None or not sidecar.alive:
            raise web.HTTPError(409, f"Kernel {kernel_id} waits for no input (it is gone)")
        try:
            cell = sidecar.answer_input(answer.value)
        except (OSError, ConnectionError) as error:  # a gateway kernel's link is down
            raise web.HTTPError(503, f"Could not reach kernel {kernel_id}: {error}") from None
        if cell is None:
            raise web.HTTPError(409, f"Kernel {kernel_id} waits for no input")
        self.write_model(InputAnswered(kernel_id=kernel_id, msg_id=cell.msg_id, cell_id=cell.id))
