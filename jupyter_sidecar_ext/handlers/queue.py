"""The execution queue of a kernel over REST (execution/queue.py).

`GET /api/sidecar/kernels/{kernel_id}/queue` -> `{kernel_id, enabled, running, queued}`, each
entry `{msg_id, cell_id, code, session, source: "websocket"|"http", queued_at}`.
`DELETE /api/sidecar/kernels/{kernel_id}/queue/{msg_id}` -> `{msg_id, removed: true}`: the
request's client gets an aborted reply, the running cell is not interrupted. 404 unknown
kernel or request, 409 when it is running or the queue is off.
`POST /api/sidecar/kernels/{kernel_id}/queue/interrupt[?continue=true]` -> `{kernel_id,
interrupted, continued, waiting}`: interrupts the kernel; with continue=true the running cell's
KeyboardInterrupt does not abort the waiting ones (409 when the queue is off).
"""

from __future__ import annotations

from typing import Any, ClassVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from tornado import web

from ..execution.queue import QueueConflict
from ..schemas.api import QueueInterrupt, QueueRemoval, QueueState
from ..schemas.openapi import Operation, QueryParam
from .base import SidecarHandler


class QueueHandler(SidecarHandler):
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("get", "The kernel's execution queue", QueueState, errors=(404,)),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str) -> None:
        sidecar = self.live_sidecar(kernel_id)
        payload: dict[str, Any]
        if sidecar is None:
            payload = {"kernel_id": kernel_id, "enabled": False, "running": None, "queued": []}
        else:
            payload = sidecar.executor.queue.to_dict(kernel_id)
        self.write_answer(QueueState, payload)


class QueueEntryHandler(SidecarHandler):
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "delete", "Take a waiting request out of the queue", QueueRemoval, errors=(404, 409)
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def delete(self, kernel_id: str, msg_id: str) -> None:
        sidecar = self.live_sidecar(kernel_id)
        if sidecar is None:
            raise web.HTTPError(409, "This kernel has no execution queue (it is gone)")
        try:
            sidecar.executor.queue.remove(msg_id)
        except QueueConflict as conflict:
            raise web.HTTPError(409, str(conflict)) from None
        except KeyError:
            raise web.HTTPError(404, f"No queued request {msg_id}") from None
        self.write_model(QueueRemoval(msg_id=msg_id, removed=True))


class QueueInterruptHandler(SidecarHandler):
    """Interrupt the running cell; with `continue=true` the queue goes on behind it
    (jupyterlab#7825). Without it, the same as the server's own kernel interrupt."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "post",
            "Interrupt the running cell, optionally letting the waiting ones run",
            QueueInterrupt,
            errors=(400, 404, 409),
            query=(
                QueryParam(
                    "continue",
                    bool,
                    "true: the waiting requests run after the interrupted one instead of "
                    "being aborted by its KeyboardInterrupt",
                ),
            ),
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def post(self, kernel_id: str) -> None:
        keep_queue = self._continue()
        sidecar = self.live_sidecar(kernel_id)
        queue = None if sidecar is None else sidecar.executor.queue
        running = None
        if keep_queue:
            if queue is None:
                raise web.HTTPError(409, "This kernel has no execution queue (it is gone)")
            try:
                running = queue.spare_running()
            except QueueConflict as conflict:
                raise web.HTTPError(409, str(conflict)) from None
        elif queue is not None:
            running = queue.running
        manager: Any = self.kernel_manager  # async in the server, typed sync upstream
        try:
            await ensure_async(manager.interrupt_kernel(kernel_id))
        except BaseException:
            if keep_queue and running is not None:  # not interrupted: its errors abort
                running.spares_queue = False
            raise
        answer = QueueInterrupt(
            kernel_id=kernel_id,
            interrupted=None if running is None else running.msg_id,
            continued=keep_queue,
            waiting=0 if queue is None else len(queue),
        )
        self.write_model(answer)

    def _continue(self) -> bool:
        raw = self.get_query_argument("continue", "false").strip().lower()
        if raw in ("true", "1", "yes"):
            return True
        if raw in ("false", "0", "no", ""):
            return False
        raise web.HTTPError(400, f"continue must be true or false, got {raw!r}")
