"""Handlers for recorded kernels: info, kernel list, shadow notebook, one cell."""

from __future__ import annotations

from typing import Any, ClassVar

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import authorized
from pydantic import NonNegativeInt
from tornado import web

from .._tz import isoformat
from .._version import __version__
from ..record.shadow import ShadowCell
from ..schemas import api
from ..schemas.openapi import Operation, QueryParam
from ..sidecar import KernelSidecar
from .base import SidecarHandler


class InfoHandler(SidecarHandler):
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("get", "The extension's version and features", api.Info),
    )

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_model(api.Info(version=__version__, features=self.services.features()))


class KernelsHandler(SidecarHandler):
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "get",
            "The kernels the sidecar knows",
            api.KernelList,
            query=(QueryParam("path", str, "Only the kernels of this notebook path"),),
        ),
    )

    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.get_query_argument("path", None)
        models = await self._gateway_models()
        for kernel_id in self.kernel_manager.list_kernel_ids():
            self.services.registry.adopt(kernel_id)
        summaries = [
            await self._summary(sidecar, models)
            for sidecar in self.services.registry.all()
            if path is None or sidecar.path == path
        ]
        known = {summary["kernel_id"] for summary in summaries}
        for stored in await self.services.registry.stored_kernels(path):
            if stored["kernel_id"] not in known:
                summaries.append(self._stored_summary(stored))
        summaries.sort(key=lambda summary: str(summary["updated"]), reverse=True)
        self.write_answer(api.KernelList, summaries)

    @staticmethod
    def _stored_summary(stored: dict[str, Any]) -> dict[str, Any]:
        """A kernel known only from the store (e.g. from before a server restart)."""
        return {
            "kernel_id": stored["kernel_id"],
            "kernel_name": stored["kernel_name"],
            "alive": False,
            "execution_state": "gone",
            "connections": 0,
            "cells": stored["cells"],
            "queued": 0,
            "last_activity": None,
            "path": stored["path"],
            "updated": isoformat(stored["updated"]),
        }

    async def _gateway_models(self) -> dict[str, dict[str, Any]]:
        """In gateway mode, the gateway's current kernel models, as the server's own
        `GET /api/kernels` fetches them (its per-kernel models are only refreshed by that
        list); empty locally, or when the gateway does not answer (the last models are
        shown then)."""
        gateway = getattr(self.serverapp, "gateway_config", None)
        if not getattr(gateway, "gateway_enabled", False):
            return {}
        try:
            listed = await ensure_async(self.kernel_manager.list_kernels())
        except Exception as error:
            self.log.debug("the gateway did not list its kernels: %s", error)
            return {}
        return {model["id"]: model for model in listed if isinstance(model, dict)}

    async def _summary(
        self, sidecar: KernelSidecar, models: dict[str, dict[str, Any]]
    ) -> dict[str, Any]:
        cells = sidecar.notebook.cells()
        summary: dict[str, Any] = {
            "kernel_id": sidecar.kernel_id,
            "kernel_name": sidecar.kernel_name,
            "alive": sidecar.alive,
            "execution_state": "gone",
            "connections": 0,
            "cells": len(cells),
            "queued": _queued(sidecar, cells),
            "last_activity": None,
            "path": sidecar.path,
            "updated": isoformat(sidecar.updated),
        }
        if sidecar.alive and sidecar.kernel_id in self.kernel_manager:
            model = models.get(sidecar.kernel_id)
            if model is None:  # async in gateway mode, sync otherwise
                model = await ensure_async(self.kernel_manager.kernel_model(sidecar.kernel_id))
            model = model or {}
            summary["execution_state"] = model.get("execution_state")
            summary["connections"] = model.get("connections", 0)
            summary["last_activity"] = model.get("last_activity")
        return summary


def _queued(sidecar: KernelSidecar, cells: list[ShadowCell]) -> int:
    """Requests waiting in the execution queue; with the queue off, those sent to the
    kernel that it has not started yet."""
    queue = sidecar.executor.queue
    if queue.enabled:
        return len(queue)
    return sum(1 for cell in cells if cell.status == "queued")


class NotebookHandler(SidecarHandler):
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "get",
            "A kernel's shadow notebook",
            api.ShadowNotebook,
            errors=(400, 404),
            query=(QueryParam("since", NonNegativeInt, "Only the cells changed after this seq"),),
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str) -> None:
        since = self._since()
        sidecar = self.services.registry.find_or_adopt(kernel_id)
        if sidecar is not None:
            path = await self.services.registry.path_of(sidecar)
            payload = sidecar.notebook.to_dict(since=since)
            self.write_answer(
                api.ShadowNotebook,
                {"kernel_id": kernel_id, "path": path, "alive": sidecar.alive, **payload},
            )
            return
        stored = await self.stored_or_404(kernel_id)
        stored["cells"] = [cell for cell in stored["cells"] if cell.get("seq", 0) > since]
        self.write_answer(api.ShadowNotebook, {**stored, "alive": False})

    def _since(self) -> int:
        raw = self.get_query_argument("since", "0")
        try:
            since = int(raw)
        except ValueError:
            raise web.HTTPError(400, f"since must be a non-negative integer, got {raw!r}") from None
        if since < 0:
            raise web.HTTPError(400, f"since must be a non-negative integer, got {raw!r}")
        return since


class CellHandler(SidecarHandler):
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("get", "One recorded cell", api.ShadowCell, errors=(404,)),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str, cell_id: str) -> None:
        sidecar = self.services.registry.find_or_adopt(kernel_id)
        if sidecar is not None:
            cell = sidecar.notebook.get(cell_id)
            payload = None if cell is None else cell.to_dict()
        else:
            stored = await self.stored_or_404(kernel_id)
            payload = next((c for c in stored["cells"] if c.get("id") == cell_id), None)
        if payload is None:
            raise web.HTTPError(404, f"Cell not found: {cell_id}")
        self.write_answer(api.ShadowCell, payload)


class NotFoundHandler(SidecarHandler):
    """Unknown paths under api/sidecar answer JSON, not an HTML page."""

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        raise web.HTTPError(404, f"No such sidecar endpoint: {path}")
