"""`POST /api/sidecar/lint`: format notebook cells (isort + black, or ruff; lint/service.py).

Body `{cells: [{id, source}], path?, tools?, options?, check?}` -> `{cells: [{id, source,
changed, error?, diagnostics?}]}`; with `check` the cells are checked by ruff (lint/check.py)
instead of formatted. A cell that cannot be formatted keeps its source and gets an `error`;
the others are formatted anyway. The request's fault is a 400, a body over the bound a 413, too much
pending lint work a 429 with Retry-After. With a `.py` path the sources are whole Python
files, not notebook cells (no IPython syntax). Work is shared round-robin between users.
"""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..lint.config import ConfigError
from ..lint.service import CheckError, LintBusy, LintService
from ..schemas.api import ErrorBody, LintedCell, LintRequest, LintResult
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
            "Format cells with isort and black or with ruff, or check them with ruff",
            LintResult,
            body=LintRequest,
            errors=(400, 404, 413, 429, 503),
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
        if request.check:
            await self.check(service, request)
            return
        options = (
            None if request.options is None else request.options.model_dump(exclude_unset=True)
        )
        client = self.client_key()
        if not request.cells:  # what a client sends when it loads: start every worker now
            service.warm_up()
        try:
            spec = await service.settings(request.path, request.tools, options, client)
            answer = service.engine.submit([cell.source for cell in request.cells], spec, client)
        except ConfigError as error:
            self.bad_request(str(error))
            return
        except LintBusy as busy:
            self.set_header("Retry-After", str(busy.retry_after))
            self.write_model(ErrorBody(message=str(busy)), status=429)
            return
        except RuntimeError as error:  # the workers failed, or the server is stopping
            raise web.HTTPError(503, str(error)) from None
        self._answer = answer
        try:
            outcomes = await answer
        except asyncio.CancelledError:  # the client went away: its queued cells were dropped
            return
        except RuntimeError as error:
            raise web.HTTPError(503, str(error)) from None
        cells = []
        for cell, outcome in zip(request.cells, outcomes, strict=True):
            linted = LintedCell(id=cell.id, source=outcome.source, changed=outcome.changed)
            if outcome.error is not None:
                linted.error = outcome.error
            cells.append(linted)
        self.write_model(LintResult.model_validate({"cells": cells, "tools": list(spec.tools)}))

    async def check(self, service: LintService, request: LintRequest) -> None:
        """Diagnostics for the cells, the notebook checked as one program. They come back
        from a check worker as JSON text per cell, in the shape of `Diagnostic`s
        (tests/lint/test_check_pool.py holds them to it): this answer only wraps them."""
        try:
            found = await service.check_json(request.path, [cell.source for cell in request.cells])
        except ConfigError as error:
            self.bad_request(str(error))
            return
        except CheckError as error:  # no ruff, a timeout, ruff failed: this request's error
            raise web.HTTPError(503, str(error)) from None

        def answer() -> str:
            cells = ", ".join(
                f'{{"id": {json.dumps(cell.id)}, "source": {json.dumps(cell.source)}, '
                f'"changed": false, "diagnostics": {diagnostics}}}'
                for cell, diagnostics in zip(request.cells, found, strict=True)
            )
            return f'{{"cells": [{cells}]}}'

        # A big notebook's sources take milliseconds to encode: not on the event loop.
        text = await asyncio.to_thread(answer)
        self.set_header("Content-Type", "application/json")
        self.finish(text)

    def client_key(self) -> str:
        """Whose work this is, for the fair share and the per-user bound: the user's name."""
        user = self.current_user
        name = getattr(user, "username", None) or (user if isinstance(user, str) else None)
        return f"user:{name}" if name else f"request:{id(self)}"

    def on_connection_close(self) -> None:
        """Nobody will read the answer: drop the request's cells not yet started."""
        answer = getattr(self, "_answer", None)
        if answer is not None:
            answer.cancel()
        super().on_connection_close()
