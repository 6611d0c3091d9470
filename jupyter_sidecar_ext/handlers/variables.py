"""Handlers for kernel variables: the cached snapshot, and one variable's rich view."""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas.api import RichVariable, VariablesSnapshot
from ..schemas.openapi import Operation
from ..variables.service import VariableError, VariablesService
from .base import SidecarHandler

UNRECORDED = "The sidecar does not follow this kernel (e.g. one run by a gateway)."


class _VariablesBase(SidecarHandler):
    def _service(self) -> VariablesService:
        service = self.services.variables
        if service is None:
            raise web.HTTPError(404, "Variables are disabled on this server")
        return service


class VariablesHandler(_VariablesBase):
    """The kernel's snapshot from memory: answers at once, whatever the kernel is doing."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("get", "The kernel's variables (cached)", VariablesSnapshot, errors=(404,)),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str) -> None:
        service = self._service()
        sidecar = self.live_sidecar(kernel_id)
        if sidecar is None:
            self.write_answer(VariablesSnapshot, service.unavailable(kernel_id, UNRECORDED))
            return
        self.write_answer(VariablesSnapshot, service.snapshot(sidecar))


class VariableHandler(_VariablesBase):
    """One variable's mime bundle, asked of the kernel on demand (bounded in time)."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("get", "One variable's rich view", RichVariable, errors=(404, 503)),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str, name: str) -> None:
        service = self._service()
        sidecar = self.live_sidecar(kernel_id)
        if sidecar is None:
            raise web.HTTPError(503, UNRECORDED)
        try:
            payload = await service.rich(sidecar, name)
        except VariableError as error:
            raise web.HTTPError(error.status, error.message) from None
        self.write_answer(RichVariable, payload)
