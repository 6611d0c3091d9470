"""`GET /api/sidecar/openapi.json`: the REST API as OpenAPI 3.1, generated from its models.

The document is built once per server from the routes (make_handlers) and the operations
each handler declares; the only per-request part is `servers`, the server's base_url.
"""

from __future__ import annotations

from typing import Any, ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..schemas.openapi import OpenAPIDocument, Operation
from .base import Services, SidecarHandler


class OpenAPIHandler(SidecarHandler):
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation("get", "This API as OpenAPI 3.1", OpenAPIDocument),
    )

    def initialize(self, services: Services, document: dict[str, Any] | None = None) -> None:
        super().initialize(services)
        self.document = document or {}

    @web.authenticated
    @authorized
    async def get(self) -> None:
        base_url = self.base_url.rstrip("/") or "/"
        self.write_json({**self.document, "servers": [{"url": base_url}]})
