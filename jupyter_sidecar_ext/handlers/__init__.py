"""REST routes of the extension (`{base_url}api/sidecar/...`), one module per area."""

from __future__ import annotations

from typing import Any

from .base import Services, SidecarHandler
from .execute import ExecuteHandler
from .kernels import CellHandler, InfoHandler, KernelsHandler, NotebookHandler, NotFoundHandler
from .lint import LintHandler
from .queue import QueueEntryHandler, QueueHandler
from .variables import VariableHandler, VariablesHandler

Route = tuple[str, type[SidecarHandler], dict[str, Any]]

_KERNEL = r"(?P<kernel_id>[^/]+)"


def make_handlers(services: Services) -> list[Route]:
    """Routes relative to base_url (the ExtensionApp prepends it). The catch-all is last."""
    deps = {"services": services}
    return [
        (r"/api/sidecar/?", InfoHandler, deps),
        (r"/api/sidecar/kernels/?", KernelsHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/notebook/?", NotebookHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/cells/(?P<cell_id>[^/]+)/?", CellHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/variables/?", VariablesHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/variables/(?P<name>[^/]+)/?", VariableHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/execute/?", ExecuteHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/queue/?", QueueHandler, deps),
        (rf"/api/sidecar/kernels/{_KERNEL}/queue/(?P<msg_id>[^/]+)/?", QueueEntryHandler, deps),
        (r"/api/sidecar/lint/?", LintHandler, deps),
        (r"/api/sidecar/(?P<path>.*)", NotFoundHandler, deps),
    ]


__all__ = ["Services", "SidecarHandler", "make_handlers"]
