"""REST routes of the extension (`{base_url}api/sidecar/...`), one module per area."""

from __future__ import annotations

from typing import Any

from .._version import __version__
from ..schemas.openapi import openapi_document
from .base import Services, SidecarHandler
from .dataflow import DataflowHandler, PlanHandler, RunPlanHandler
from .execute import ExecuteHandler
from .kernels import CellHandler, InfoHandler, KernelsHandler, NotebookHandler, NotFoundHandler
from .lint import LintHandler
from .openapi import OpenAPIHandler
from .queue import QueueEntryHandler, QueueHandler, QueueInterruptHandler
from .stdin import InputHandler
from .variables import (
    VariableChildrenHandler,
    VariableHandler,
    VariableRowsHandler,
    VariablesHandler,
)

Route = tuple[str, type[SidecarHandler], dict[str, Any]]

_KERNEL = r"(?P<kernel_id>[^/]+)"

#: the API's routes (relative to base_url), each described in openapi.json
API_ROUTES: tuple[tuple[str, type[SidecarHandler]], ...] = (
    (r"/api/sidecar/?", InfoHandler),
    (r"/api/sidecar/openapi.json", OpenAPIHandler),
    (r"/api/sidecar/kernels/?", KernelsHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/notebook/?", NotebookHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/cells/(?P<cell_id>[^/]+)/?", CellHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/variables/?", VariablesHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/variables/(?P<name>[^/]+)/?", VariableHandler),
    (
        rf"/api/sidecar/kernels/{_KERNEL}/variables/(?P<name>[^/]+)/children/?",
        VariableChildrenHandler,
    ),
    (rf"/api/sidecar/kernels/{_KERNEL}/variables/(?P<name>[^/]+)/rows/?", VariableRowsHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/execute/?", ExecuteHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/input/?", InputHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/queue/?", QueueHandler),
    # before queue/{msg_id}, which would take "interrupt" for a msg_id
    (rf"/api/sidecar/kernels/{_KERNEL}/queue/interrupt/?", QueueInterruptHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/queue/(?P<msg_id>[^/]+)/?", QueueEntryHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/dataflow/?", DataflowHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/plan/?", PlanHandler),
    (rf"/api/sidecar/kernels/{_KERNEL}/run/?", RunPlanHandler),
    (r"/api/sidecar/lint/?", LintHandler),
)
#: not an endpoint: unknown paths under api/sidecar answer a JSON 404, not an HTML page
CATCH_ALL = (r"/api/sidecar/(?P<path>.*)", NotFoundHandler)


def api_document() -> dict[str, Any]:
    """openapi.json's content (without `servers`, which depends on the base_url)."""
    routes = [
        (pattern, handler.__name__.removesuffix("Handler"), handler.operations)
        for pattern, handler in API_ROUTES
    ]
    return openapi_document(routes, "jupyter_sidecar_ext", __version__)


def make_handlers(services: Services) -> list[Route]:
    """Routes relative to base_url (the ExtensionApp prepends it). The catch-all is last."""
    deps: dict[str, Any] = {"services": services}
    document: dict[str, Any] = {**deps, "document": api_document()}
    routes: list[tuple[str, type[SidecarHandler]]] = [*API_ROUTES, CATCH_ALL]
    return [
        (pattern, handler, document if handler is OpenAPIHandler else deps)
        for pattern, handler in routes
    ]


__all__ = ["API_ROUTES", "CATCH_ALL", "Services", "SidecarHandler", "api_document", "make_handlers"]
