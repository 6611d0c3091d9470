"""`POST /api/sidecar/lint`: format notebook cells with isort and black (engine: lint/service.py).

Body `{cells: [{id, source}], path?, tools?, options?}` -> `{cells: [{id, source, changed,
error?}]}`. A cell that cannot be formatted keeps its source and gets an `error`; the others
are formatted anyway. The request's fault is a 400, a body over the bound a 413. With a
`.py` path the sources are whole Python files, not notebook cells (no IPython syntax).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..lint.config import ConfigError
from .base import SidecarHandler

BODY_KEYS = frozenset({"cells", "path", "tools", "options"})


class BadRequest(ValueError):
    """The body is well-formed JSON but not a lint request."""


def parse_cells(raw: Any, max_cells: int) -> tuple[list[str], list[str]]:
    """(ids, sources) of the request's cells; a source may be a string or a list of lines."""
    if not isinstance(raw, list):
        raise BadRequest("cells must be a list of {id, source}")
    if len(raw) > max_cells:
        raise BadRequest(f"too many cells: {len(raw)} (at most {max_cells})")
    ids: list[str] = []
    sources: list[str] = []
    for index, cell in enumerate(raw):
        if not isinstance(cell, dict):
            raise BadRequest(f"cells[{index}] must be an object with id and source")
        cell_id, source = cell.get("id"), cell.get("source")
        if not isinstance(cell_id, str):
            raise BadRequest(f"cells[{index}].id must be a string")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)  # nbformat's multi-line form
        if not isinstance(source, str):
            raise BadRequest(f"cells[{index}].source must be a string")
        ids.append(cell_id)
        sources.append(source)
    return ids, sources


class LintHandler(SidecarHandler):
    """Formatting is about files: authorized as `contents` (POST: write)."""

    auth_resource = "contents"

    @web.authenticated
    @authorized
    async def post(self) -> None:
        service = self.services.lint
        if service is None:
            raise web.HTTPError(404, "Lint is disabled on this server")
        if len(self.request.body) > service.max_request_bytes:
            raise web.HTTPError(413, f"Lint request over {service.max_request_bytes} bytes")
        body = self.json_body()
        try:
            unknown = sorted(set(body) - BODY_KEYS)
            if unknown:
                known = ", ".join(sorted(BODY_KEYS))
                raise BadRequest(f"unknown field {unknown[0]!r} (known: {known})")
            ids, sources = parse_cells(body.get("cells"), service.max_cells)
            path = body.get("path")
            if path is not None and not isinstance(path, str):
                raise BadRequest("path must be a string")
            spec = await service.settings(path, body.get("tools"), body.get("options"))
        except (BadRequest, ConfigError) as error:
            # Written directly: a user's text in HTTPError's log_message is %-formatted.
            self.write_json({"message": str(error)}, status=400)
            return
        except RuntimeError as error:  # the workers failed, or the server is stopping
            raise web.HTTPError(503, str(error)) from None
        try:
            outcomes = await service.engine.format(sources, spec)
        except RuntimeError as error:
            raise web.HTTPError(503, str(error)) from None
        cells: list[dict[str, Any]] = []
        for cell_id, outcome in zip(ids, outcomes, strict=True):
            cell: dict[str, Any] = {
                "id": cell_id,
                "source": outcome.source,
                "changed": outcome.changed,
            }
            if outcome.error is not None:
                cell["error"] = outcome.error
            cells.append(cell)
        self.write_json({"cells": cells})
