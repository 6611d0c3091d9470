"""The execution queue of a kernel over REST (execution/queue.py).

`GET /api/sidecar/kernels/{kernel_id}/queue` -> `{kernel_id, enabled, running, queued}`, each
entry `{msg_id, cell_id, code, session, source: "websocket"|"http", queued_at}`.
`DELETE /api/sidecar/kernels/{kernel_id}/queue/{msg_id}` -> `{msg_id, removed: true}`: the
request's client gets an aborted reply, the running cell is not interrupted. 404 unknown
kernel or request, 409 when it is running or the queue is off.
"""

from __future__ import annotations

from typing import Any, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..execution.queue import QueueConflict
from ..schemas.api import QueueRemoval, QueueState
from ..schemas.openapi import Operation
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
