"""An OpenAPI 3.1 document of the REST API, generated from the models of :mod:`.api`.

Each handler declares its operations (:class:`Operation`: verb, body model, answer model,
error statuses, query parameters); :func:`openapi_document` turns the routes' regex patterns
into OpenAPI paths and every model into one entry of `components.schemas`, so the document
cannot drift from what the handlers validate and send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, RootModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from .api import ErrorBody

REF = "#/components/schemas/{model}"
JSON = "application/json"
NDJSON = "application/x-ndjson"
Verb = Literal["get", "post", "put", "patch", "delete"]

STATUS_TEXT = {
    200: "OK",
    400: "Bad body or query: the message names the field and the reason",
    403: "Not authenticated, or not authorized",
    404: "Unknown kernel, cell, variable or request, or the feature is off",
    409: "Conflicting state (a dead kernel, a request already running, no queue)",
    413: "The body is too large",
    429: "Too much work pending: try again after the Retry-After header's seconds",
    503: "The kernel (or its gateway connection) is not ready",
    504: "The run timed out",
}


class OpenAPIDocument(RootModel[dict[str, Any]]):
    """This document (OpenAPI 3.1)."""


@dataclass(frozen=True)
class QueryParam:
    """One query-string parameter of an operation."""

    name: str
    type: Any
    description: str


@dataclass(frozen=True)
class Operation:
    """One verb of one route, as the document describes it."""

    verb: Verb
    summary: str
    answer: type[BaseModel]
    body: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    query: tuple[QueryParam, ...] = ()
    streams: type[BaseModel] | None = None  # NDJSON lines when asked with Accept


def openapi_path(pattern: str) -> tuple[str, list[str]]:
    """`/api/sidecar/kernels/(?P<kernel_id>[^/]+)/?` -> (`/api/sidecar/kernels/{kernel_id}`,
    ["kernel_id"])."""
    names = re.findall(r"\(\?P<(\w+)>", pattern)
    path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)
    path = path.removesuffix("/?").replace("\\.", ".")
    return path or "/", names


def openapi_document(
    routes: Iterable[tuple[str, str, Sequence[Operation]]], title: str, version: str
) -> dict[str, Any]:
    """The whole document for `routes` (regex pattern, name, operations), paths relative to
    the server's base_url. Operation ids are the verb and the route's name (`getKernels`)."""
    routes = list(routes)
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {
        (ErrorBody, "serialization"): None
    }
    for _, _, operations in routes:
        for op in operations:
            wanted[(op.answer, "serialization")] = None
            if op.body is not None:
                wanted[(op.body, "validation")] = None
            if op.streams is not None:
                wanted[(op.streams, "serialization")] = None
    refs, definitions = models_json_schema(list(wanted), ref_template=REF)
    paths: dict[str, Any] = {}
    for pattern, name, operations in routes:
        path, names = openapi_path(pattern)
        item = paths.setdefault(path, {})
        for op in operations:
            item[op.verb] = _operation(op, f"{op.verb}{name}", names, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`token <the server's token>` (or the server's login cookie)",
                }
            },
        },
        "security": [{"token": []}],
    }


def _operation(
    op: Operation,
    operation_id: str,
    names: list[str],
    refs: Mapping[tuple[Any, JsonSchemaMode], dict[str, Any]],
) -> dict[str, Any]:
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]
    parameters += [
        {
            "name": param.name,
            "in": "query",
            "required": False,
            "description": param.description,
            "schema": TypeAdapter(param.type).json_schema(),
        }
        for param in op.query
    ]
    content = {JSON: {"schema": refs[(op.answer, "serialization")]}}
    if op.streams is not None:
        lines = [refs[(op.streams, "serialization")], refs[(op.answer, "serialization")]]
        content[NDJSON] = {"schema": {"anyOf": lines}}
    error = {JSON: {"schema": refs[(ErrorBody, "serialization")]}}
    responses: dict[str, Any] = {"200": {"description": _doc(op.answer), "content": content}}
    for status in sorted({*op.errors, 403}):
        responses[str(status)] = {"description": STATUS_TEXT[status], "content": error}
    operation: dict[str, Any] = {
        "summary": op.summary,
        "operationId": operation_id,
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": refs[(op.body, "validation")]}},
        }
    return operation


def _doc(model: type[BaseModel]) -> str:
    return (model.__doc__ or model.__name__).strip().splitlines()[0]
