"""Handlers for dataflow: a kernel's graph and stale cells, plans, and running a plan."""

from __future__ import annotations

from typing import Any, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..dataflow.plan import PlanCell
from ..dataflow.service import DataflowService, PlanError
from ..schemas.api import Dataflow, Plan, PlanQueued, PlanRequest
from ..schemas.openapi import Operation
from ..sidecar import KernelSidecar
from .base import SidecarHandler

UNRECORDED = "The sidecar does not follow this kernel (e.g. one run by a gateway)."


class _DataflowBase(SidecarHandler):
    def _service(self) -> DataflowService:
        service = self.services.dataflow
        if service is None:
            raise web.HTTPError(404, "Dataflow is disabled on this server")
        return service

    def _sidecar(self, kernel_id: str) -> KernelSidecar:
        sidecar = self.live_sidecar(kernel_id)
        if sidecar is None:
            raise web.HTTPError(503, UNRECORDED)
        return sidecar

    async def _plan(self, kernel_id: str) -> tuple[KernelSidecar, PlanRequest, list[str]] | None:
        service = self._service()
        request = self.validated_body(PlanRequest)
        if request is None:
            return None
        sidecar = self._sidecar(kernel_id)
        cells = [PlanCell(cell.id, cell.source) for cell in request.cells]
        try:
            plan = await service.plan(sidecar, cells, request.target, request.direction)
        except PlanError as error:
            self.bad_request(str(error))
            return None
        return sidecar, request, plan


class DataflowHandler(_DataflowBase):
    """What each recorded cell defines and uses, which are stale and why, and the edges."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("get", "The kernel's dataflow graph", Dataflow, errors=(404, 503)),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str) -> None:
        service = self._service()
        graph = service.graph(self._sidecar(kernel_id))
        payload: dict[str, Any] = {
            "kernel_id": kernel_id,
            "cells": [
                {**vars(cell), "stale_because": [r.to_dict() for r in cell.stale_because]}
                for cell in graph.cells
            ],
            "edges": [{"from": a, "to": b, "names": names} for a, b, names in graph.edges],
        }
        self.write_answer(Dataflow, payload)


class PlanHandler(_DataflowBase):
    """The cells to run for a cell's inputs (upstream) or its dependents (downstream)."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("post", "Plan a run", Plan, body=PlanRequest, errors=(400, 404, 413, 503)),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def post(self, kernel_id: str) -> None:
        planned = await self._plan(kernel_id)
        if planned is None:
            return
        _, request, plan = planned
        payload = {"kernel_id": kernel_id, "target": request.target}
        self.write_answer(Plan, {**payload, "direction": request.direction, "cells": plan})


class RunPlanHandler(_DataflowBase):
    """Plan, then put the planned cells in the kernel's server-side queue (headless runs)."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "post",
            "Plan a run and queue it",
            PlanQueued,
            body=PlanRequest,
            errors=(400, 404, 409, 413, 503),
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def post(self, kernel_id: str) -> None:
        planned = await self._plan(kernel_id)
        if planned is None:
            return
        sidecar, request, plan = planned
        if not sidecar.alive:
            raise web.HTTPError(409, f"Kernel {kernel_id} is shut down")
        await self.until_receiving(sidecar)  # a kernel just started: its subscription first
        cells = [PlanCell(cell.id, cell.source) for cell in request.cells]
        queued = self._service().run(sidecar, cells, plan)
        payload = {"kernel_id": kernel_id, "target": request.target}
        self.write_answer(PlanQueued, {**payload, "direction": request.direction, "cells": queued})
