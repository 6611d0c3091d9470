"""`POST /api/sidecar/lint`: format notebook cells with isort and black (engine: lint/service.py).

Body `{cells: [{id, source}], path?, tools?, options?}` -> `{cells: [{id, source, changed,
error?}]}`. A cell that cannot be formatted keeps its source and gets an `error`; the others
are formatted anyway. The request's fault is a 400, a body over the bound a 413. With a
`.py` path the sources are whole Python files, not notebook cells (no IPython syntax).
"""

from __future__ import annotations

from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..lint.config import ConfigError
from ..schemas.api import LintedCell, LintRequest, LintResult
from ..schemas.openapi import Operation
from .base import SidecarHandler


class LintHandler(SidecarHandler):
    """Formatting is about files: authorized as `contents` (POST: write)."""

    auth_resource = "contents"
    # One cell that cannot be encoded gets its own error; the others are formatted.
    per_item_text = (("cells", "*", "source"), ("cells", "*", "source", "*"))
    operations: ClassVar[tuple[Operation, ...]] = (
        Operation(
            "post",
            "Format cells with isort and black",
            LintResult,
            body=LintRequest,
            errors=(400, 404, 413, 503),
        ),
    )

    @web.authenticated
    @authorized
    async def post(self) -> None:
        service = self.services.lint
        if service is None:
            raise web.HTTPError(404, "Lint is disabled on this server")
        if len(self.request.body) > service.max_request_bytes:
            raise web.HTTPError(413, f"Lint request over {service.max_request_bytes} bytes")
        request = self.validated_body(LintRequest, {"max_cells": service.max_cells})
        if request is None:
            return
        options = (
            None if request.options is None else request.options.model_dump(exclude_unset=True)
        )
        try:
            spec = await service.settings(request.path, request.tools, options)
        except ConfigError as error:
            self.bad_request(str(error))
            return
        except RuntimeError as error:  # the workers failed, or the server is stopping
            raise web.HTTPError(503, str(error)) from None
        try:
            outcomes = await service.engine.format([cell.source for cell in request.cells], spec)
        except RuntimeError as error:
            raise web.HTTPError(503, str(error)) from None
        cells = []
        for cell, outcome in zip(request.cells, outcomes, strict=True):
            linted = LintedCell(id=cell.id, source=outcome.source, changed=outcome.changed)
            if outcome.error is not None:
                linted.error = outcome.error
            cells.append(linted)
        self.write_model(LintResult(cells=cells))
