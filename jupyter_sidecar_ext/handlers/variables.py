"""Handlers for kernel variables: the cached snapshot, one variable's rich view, its
children (drill-down) and a table's rows (paged)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from jupyter_server.auth.decorator import authorized
from pydantic import NonNegativeInt, PositiveInt
from tornado import web

from ..schemas.api import RichVariable, VariableChildren, VariableRows, VariablesSnapshot
from ..schemas.openapi import Operation, QueryParam
from ..variables.service import VariableError, VariablesService
from .base import SidecarHandler

UNRECORDED = "The sidecar does not follow this kernel (e.g. one run by a gateway)."
MAX_PATH = 64
_PAGE = (
    QueryParam("offset", NonNegativeInt, "First item of the page (default 0)"),
    QueryParam("limit", PositiveInt, "Items in the page (default 100, at most max_limit)"),
)


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


class _OnDemand(_VariablesBase):
    """A request asked of the kernel now: the sidecar, the page bounds from the query."""

    def _sidecar(self, kernel_id: str) -> Any:
        sidecar = self.live_sidecar(kernel_id)
        if sidecar is None:
            raise web.HTTPError(503, UNRECORDED)
        return sidecar

    def _int(self, name: str, default: int, least: int, most: int) -> int:
        raw = self.get_query_argument(name, str(default))
        try:
            value = int(raw)
        except ValueError:
            value = least - 1
        if not least <= value <= most:
            raise web.HTTPError(
                400, f"{name} must be an integer from {least} to {most}, got {raw!r}"
            )
        return value

    def _page(self) -> tuple[int, int]:
        most = self._service().explorer.max_limit
        return self._int("offset", 0, 0, 2**53), self._int("limit", 100, 1, most)

    async def _answer(self, model: Any, call: Any) -> None:
        try:
            payload = await call
        except VariableError as error:
            raise web.HTTPError(error.status, error.message) from None
        self.write_answer(model, payload)


class VariableChildrenHandler(_OnDemand):
    """One level of a variable's children, paged: through a kernel subshell, bounded in time."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "get",
            "One page of a variable's children at a path",
            VariableChildren,
            errors=(400, 404, 409, 503, 504),
            query=(
                QueryParam(
                    "path",
                    str,
                    "JSON list of keys, indices and attribute names from the variable down "
                    "(default [])",
                ),
                *_PAGE,
            ),
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str, name: str) -> None:
        service = self._service()
        sidecar = self._sidecar(kernel_id)
        path = self._path()
        offset, limit = self._page()
        await self._answer(VariableChildren, service.children(sidecar, name, path, offset, limit))

    def _path(self) -> list[Any]:
        raw = self.get_query_argument("path", "[]")
        try:
            path = json.loads(raw)
        except ValueError:
            path = None
        scalars = (str, int, float, bool, type(None))
        if not isinstance(path, list) or not all(isinstance(step, scalars) for step in path):
            raise web.HTTPError(400, "path must be a JSON list of keys, indices or attribute names")
        if len(path) > MAX_PATH:
            raise web.HTTPError(400, f"path is longer than {MAX_PATH} steps")
        return path


class VariableRowsHandler(_OnDemand):
    """One page of a table's rows (DataFrame, Series, 1-D/2-D array), optionally sorted."""

    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "get",
            "One page of a table's rows",
            VariableRows,
            errors=(400, 404, 409, 503, 504),
            query=(
                *_PAGE,
                QueryParam("sort", str, "Column name to sort by (server-side, bounded)"),
                QueryParam("ascending", bool, "Sort order (default true)"),
            ),
        ),
    )

    @web.authenticated
    @authorized(action="execute")  # type: ignore[untyped-decorator]
    async def get(self, kernel_id: str, name: str) -> None:
        service = self._service()
        sidecar = self._sidecar(kernel_id)
        offset, limit = self._page()
        sort = self.get_query_argument("sort", None)
        raw = self.get_query_argument("ascending", "true").strip().lower()
        if raw not in ("true", "false", "1", "0"):
            raise web.HTTPError(400, f"ascending must be true or false, got {raw!r}")
        if sort is not None and not sort:
            raise web.HTTPError(400, "sort must name a column")
        ascending = raw in ("true", "1")
        await self._answer(
            VariableRows, service.rows(sidecar, name, offset, limit, sort, ascending)
        )
