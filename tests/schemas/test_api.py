"""The REST models: what bodies they accept, how a 400 reads, and the generated document."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, ValidationError

from jupyter_sidecar_ext.handlers import api_document
from jupyter_sidecar_ext.schemas.api import ExecuteRequest, LintRequest, describe
from jupyter_sidecar_ext.schemas.openapi import openapi_path


def problem(model: type[BaseModel], body: Any, **context: Any) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(body, context=context)
    return describe(info.value, model)


@pytest.mark.parametrize(
    "body",
    [
        {"code": "1"},
        {"code": "", "cell_id": "a", "timeout": 5},
        {"code": "1", "timeout": 0.5, "cell_id": None},
        {"code": "1", "timeout": 10**30},
    ],
)
def test_execute_accepts(body: dict[str, Any]) -> None:
    request = ExecuteRequest.model_validate(body)
    assert request.code == body["code"]
    assert request.timeout is None or isinstance(request.timeout, float)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "code: Field required"),
        ({"code": 1}, "code: Input should be a valid string"),
        ({"code": "1", "timeout": True}, "timeout: Input should be a valid number"),
        ({"code": "1", "timeout": "5"}, "timeout: Input should be a valid number"),
        ({"code": "1", "timeout": 0}, "timeout: Input should be greater than 0"),
        ({"code": "1", "timeout": float("inf")}, "timeout: Input should be a finite number"),
        ({"code": "1", "timeout": float("nan")}, "timeout: Input should be a finite number"),
        ({"code": "1", "cell_id": ""}, "cell_id: String should have at least 1 character"),
        (
            {"code": "1", "silent": True},
            "unknown field 'silent' (known: cell_id, code, timeout)",
        ),
    ],
)
def test_execute_refuses_naming_the_field(body: dict[str, Any], message: str) -> None:
    assert problem(ExecuteRequest, body) == message


def test_lint_sources_may_be_lists_of_lines_and_cells_keep_other_fields_out() -> None:
    body = {"cells": [{"id": "a", "source": ["x=1\n", "y=2"], "cell_type": "code"}]}
    request = LintRequest.model_validate(body)
    assert request.cells[0].source == "x=1\ny=2"
    assert request.cells[0].model_dump() == {"id": "a", "source": "x=1\ny=2"}


def test_lint_cell_limit_comes_from_the_context() -> None:
    body = {"cells": [{"id": "a", "source": "x"}] * 3}
    assert LintRequest.model_validate(body, context={"max_cells": 3})
    message = problem(LintRequest, body, max_cells=2)
    assert message == "cells: too many cells: 3 (at most 2)"


def test_a_400_never_echoes_the_input() -> None:
    huge = "secret" * 10_000
    message = problem(LintRequest, {"cells": [{"id": huge, "source": 3}], huge: 1})
    assert len(message) < 400  # the id is not echoed, the unknown field name is cut short
    assert "cells.0.source: Input should be a valid string" in message


def test_many_problems_are_summed_up() -> None:
    message = problem(LintRequest, {"cells": [{"id": i} for i in range(10)]})
    assert message.startswith("cells.0.id: Input should be a valid string; ")
    assert message.endswith("(and 17 more)")


def test_openapi_paths_from_route_patterns() -> None:
    assert openapi_path(r"/api/sidecar/?") == ("/api/sidecar", [])
    assert openapi_path(r"/api/sidecar/openapi.json") == ("/api/sidecar/openapi.json", [])
    assert openapi_path(r"/api/sidecar/kernels/(?P<kernel_id>[^/]+)/queue/(?P<msg_id>[^/]+)/?") == (
        "/api/sidecar/kernels/{kernel_id}/queue/{msg_id}",
        ["kernel_id", "msg_id"],
    )


def test_the_document_is_valid_json_schema_throughout() -> None:
    document = api_document()
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    body = {"$ref": "#/components/schemas/LintRequest", **document}
    Draft202012Validator(body).validate({"cells": [{"id": "a", "source": ["x"]}]})
    assert not Draft202012Validator(body).is_valid({"cells": [{"id": "a", "source": 3}]})
