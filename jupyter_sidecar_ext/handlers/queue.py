"""The execution queue of a kernel over REST (execution/queue.py).

`GET /api/sidecar/kernels/{kernel_id}/queue` -> `{kernel_id, enabled, running, queued}`, each
entry `{msg_id, cell_id, code, session, source: "websocket"|"http", queued_at}`.
`DELETE /api/sidecar/kernels/{kernel_id}/queue/{msg_id}` -> `{msg_id, removed: true}`: the
request's client gets an aborted reply, the running cell is not interrupted. 404 unknown
kernel or request, 409 when it is running or the queue is off.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..execution.queue import QueueConflict
from .base import SidecarHandler


class QueueHandler(SidecarHandler):
    @web.authenticated
    @authorized
    async def get(self, kernel_id: str) -> None:
        sidecar = self.live_sidecar(kernel_id)
        payload: dict[str, Any]
        if sidecar is None:
            payload = {"kernel_id": kernel_id, "enabled": False, "running": None, "queued": []}
        else:
            payload = sidecar.executor.queue.to_dict(kernel_id)
        self.write_json(payload)


class QueueEntryHandler(SidecarHandler):
    @web.authenticated
    @authorized
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
        self.write_json({"msg_id": msg_id, "removed": True})
