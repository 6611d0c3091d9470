"""The base of every sidecar handler: JSON in and out, errors as `{"message": ...}`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from jupyter_server.base.handlers import APIHandler
from tornado import web

from ..lint.service import LintService
from ..registry import SidecarRegistry
from ..sidecar import KernelSidecar
from ..variables.service import VariablesService


def iso(epoch: float) -> str:
    """Epoch seconds as the ISO-8601 UTC form the rest of the API uses."""
    return datetime.fromtimestamp(epoch, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Services:
    """What handlers depend on, built by the extension app and passed via initialize()."""

    registry: SidecarRegistry
    max_body_bytes: int = 10 * 1024 * 1024
    variables: VariablesService | None = None
    lint: LintService | None = None
    execution_queue: bool = True

    def features(self) -> list[str]:
        features = ["record", "notebook", "events", "persist", "execute"]
        if self.execution_queue:
            features.append("queue")
        if self.variables is not None:
            features.append("variables")
        if self.lint is not None:
            features.append("lint")
        return features


class SidecarHandler(APIHandler):
    """Base: JSON errors, kernels resource, dependencies passed via initialize()."""

    auth_resource = "kernels"

    def initialize(self, services: Services) -> None:
        self.services = services

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(payload))

    def json_body(self) -> dict[str, Any]:
        """The request body as a JSON object: 413 when too large, 400 when not an object."""
        if len(self.request.body) > self.services.max_body_bytes:
            raise web.HTTPError(413, f"Request body over {self.services.max_body_bytes} bytes")
        try:
            body = json.loads(self.request.body or b"null")
        except (ValueError, UnicodeDecodeError) as error:
            raise web.HTTPError(400, f"Body is not valid JSON: {error}") from None
        except RecursionError:  # json's decoder gives up on deep nesting this way
            raise web.HTTPError(400, "Body is nested too deeply") from None
        if not isinstance(body, dict):
            raise web.HTTPError(400, "Body must be a JSON object")
        return body

    def live_sidecar(self, kernel_id: str) -> KernelSidecar | None:
        """The kernel's sidecar (adopted if needed); None for a running kernel it does not
        record (a gateway kernel the gateway says is gone); 404 for an unknown kernel."""
        registry = self.services.registry
        sidecar = registry.find(kernel_id) or registry.adopt(kernel_id)
        if sidecar is None and kernel_id not in self.kernel_manager:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        return sidecar

    async def stored_or_404(self, kernel_id: str) -> dict[str, Any]:
        """A kernel's notebook from the store (kernels of earlier server runs)."""
        stored = await self.services.registry.stored_notebook(kernel_id)
        if stored is None:
            raise web.HTTPError(404, f"Kernel not found: {kernel_id}")
        return stored
