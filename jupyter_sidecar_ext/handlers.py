"""Thin REST handlers over the sidecar registry (`{base_url}api/sidecar/...`)."""

from __future__ import annotations

import json
from typing import Any

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from tornado import web

from . import __version__
from .registry import SidecarRegistry
from .sidecar import KernelSidecar

FEATURES = ["record", "notebook", "events"]


class SidecarHandler(APIHandler):
    """Base: JSON errors, kernels resource, dependencies passed via initialize()."""

    auth_resource = "kernels"

    def initialize(self, registry: SidecarRegistry) -> None:
        self.registry = registry

    def write_json(self, payload: Any) -> None:
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    def sidecar_or_404(self, kernel_id: str) -> KernelSidecar:
        sidecar = self.registry.find(kernel_id)
        if sidecar is None:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        return sidecar

    async def known_sidecar(self, kernel_id: str) -> KernelSidecar:
        """A live kernel's sidecar (adopted on first sight) or a retired one."""
        sidecar = self.registry.find(kernel_id)
        if sidecar is None and kernel_id in self.kernel_manager:
            sidecar = await self.registry.ensure(kernel_id)
        if sidecar is None:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        return sidecar


class InfoHandler(SidecarHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.write_json({"version": __version__, "features": FEATURES})


class KernelsHandler(SidecarHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        for kernel_id in self.kernel_manager.list_kernel_ids():
            if self.registry.get(kernel_id) is None:
                await self.registry.ensure(kernel_id)
        self.write_json([self._summary(sidecar) for sidecar in self.registry.all()])

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
        sidecar = await self.known_sidecar(kernel_id)
        path = await self.registry.path_of(sidecar)
        payload = sidecar.notebook.to_dict(since=since)
        self.write_json({"kernel_id": kernel_id, "path": path, "alive": sidecar.alive, **payload})

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
        sidecar = await self.known_sidecar(kernel_id)
        cell = sidecar.notebook.get(cell_id)
        if cell is None:
            raise web.HTTPError(404, f"Cell not found: {cell_id}")
        self.write_json(cell.to_dict())


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
