"""Thin REST handlers over the sidecar registry (`{base_url}api/sidecar/...`)."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from . import __version__
from .registry import SidecarRegistry
from .sidecar import KernelSidecar

FEATURES = ["record", "notebook", "events", "persist"]


def iso(epoch: float) -> str:
    """Epoch seconds as the ISO-8601 UTC form the rest of the API uses."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SidecarHandler(APIHandler):
    """Base: JSON errors, kernels resource, dependencies passed via initialize()."""

    auth_resource = "kernels"

    def initialize(self, registry: SidecarRegistry) -> None:
        self.registry = registry

    def write_json(self, payload: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    async def stored_or_404(self, kernel_id: str) -> dict[str, Any]:
        """A kernel's notebook from the store (kernels of earlier server runs)."""
        stored = await self.registry.stored_notebook(kernel_id)
        if stored is None:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        return stored


class InfoHandler(SidecarHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"version": __version__, "features": FEATURES})


class KernelsHandler(SidecarHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        path = self.get_query_argument("path", None)
        for kernel_id in self.kernel_manager.list_kernel_ids():
            self.registry.adopt(kernel_id)
        summaries = [
            self._summary(sidecar)
            for sidecar in self.registry.all()
            if path is None or sidecar.path == path
        ]
        known = {summary["kernel_id"] for summary in summaries}
        for stored in await self.registry.stored_kernels(path):
            if stored["kernel_id"] not in known:
                summaries.append(self._stored_summary(stored))
        summaries.sort(key=lambda summary: str(summary["updated"]), reverse=True)
        self.write_json(summaries)

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
            "updated": iso(stored["updated"]),
        }

    def _summary(self, sidecar: KernelSidecar) -> dict[str, Any]:
        cells = sidecar.notebook.cells()
        summary: dict[str, Any] = {
            "kernel_id": sidecar.kernel_id,
            "kernel_name": sidecar.kernel_name,
            "alive": sidecar.alive,
            "execution_state": "gone",
            "connections": 0,
            "cells": len(cells),
            "queued": sum(1 for cell in cells if cell.status == "queued"),
            "last_activity": None,
            "path": sidecar.path,
            "updated": iso(sidecar.updated),
        }
        if sidecar.alive and sidecar.kernel_id in self.kernel_manager:
            model = self.kernel_manager.kernel_model(sidecar.kernel_id)
            summary["execution_state"] = model.get("execution_state")
            summary["connections"] = model.get("connections", 0)
            summary["last_activity"] = model.get("last_activity")
        return summary


class NotebookHandler(SidecarHandler):
    @web.authenticated
    @authorized
    async def get(self, kernel_id: str) -> None:
        since = self._since()
        sidecar = self.registry.find(kernel_id) or self.registry.adopt(kernel_id)
        if sidecar is not None:
            path = await self.registry.path_of(sidecar)
            payload = sidecar.notebook.to_dict(since=since)
            self.write_json(
                {"kernel_id": kernel_id, "path": path, "alive": sidecar.alive, **payload}
            )
            return
        stored = await self.stored_or_404(kernel_id)
        stored["cells"] = [cell for cell in stored["cells"] if cell.get("seq", 0) > since]
        self.write_json({**stored, "alive": False})

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
    @web.authenticated
    @authorized
    async def get(self, kernel_id: str, cell_id: str) -> None:
        sidecar = self.registry.find(kernel_id) or self.registry.adopt(kernel_id)
        if sidecar is not None:
            cell = sidecar.notebook.get(cell_id)
            payload = None if cell is None else cell.to_dict()
        else:
            stored = await self.stored_or_404(kernel_id)
            payload = next((c for c in stored["cells"] if c.get("id") == cell_id), None)
        if payload is None:
            raise web.HTTPError(404, f"Cell not found: {cell_id}")
        self.write_json(payload)


class NotFoundHandler(SidecarHandler):
    """Unknown paths under api/sidecar answer JSON, not an HTML page."""

    @web.authenticated
    @authorized
    async def get(self, path: str) -> None:
        raise web.HTTPError(404, f"No such sidecar endpoint: {path}")


_KERNEL = r"(?P<kernel_id>[^/]+)"


def make_handlers(
    registry: SidecarRegistry,
) -> list[tuple[str, type[SidecarHandler], dict[str, Any]]]:
    """Routes relative to base_url (the ExtensionApp prepends it)."""
    deps = {"registry": registry}
    return [
        (r"/api/sidecar/?", InfoHandler, deps),
        (r"/api/sidecar/kernels/?", KernelsHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/notebook/?", NotebookHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/cells/(?P<cell_id>[^/]+)/?", CellHandler, deps),
        (r"/api/sidecar/(?P<path>.*)", NotFoundHandler, deps),
    ]
