"""GET /api/sidecar/openapi.json: every registered route is documented with its verbs, and
real answers of a real server and kernel validate against the document's own schemas."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from tornado.httpclient import HTTPClientError

from jupyter_sidecar_ext.handlers import Services, SidecarHandler, make_handlers
from jupyter_sidecar_ext.handlers.kernels import NotFoundHandler
from jupyter_sidecar_ext.pytest_plugin import blocking_cell
from jupyter_sidecar_ext.schemas import api

VERBS = ("get", "post", "put", "patch", "delete")

# actions told by the path and query alone
POSTS_WITHOUT_BODY = {"/api/sidecar/kernels/{kernel_id}/queue/interrupt"}


def registered() -> list[tuple[str, set[str], list[str]]]:
    """(OpenAPI path, verbs, path params) of every route the extension registers, but the
    catch-all (it only turns unknown paths into a JSON 404)."""
    found = []
    for pattern, handler, _ in make_handlers(Services(registry=None)):  # type: ignore[arg-type]
        if handler is NotFoundHandler:
            continue
        names = re.findall(r"\(\?P<(\w+)>", pattern)
        path = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern).replace("/?", "")
        verbs = {v for v in VERBS if getattr(handler, v) is not getattr(SidecarHandler, v)}
        found.append((path, verbs, names))
    return found


async def get_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    return json.loads((await jp_fetch(*parts, **kwargs)).body)


@pytest.fixture
def document(jp_fetch: Any, jp_asyncio_loop: Any) -> dict[str, Any]:
    doc: dict[str, Any] = jp_asyncio_loop.run_until_complete(
        get_json(jp_fetch, "api", "sidecar", "openapi.json")
    )
    return doc


class Checker:
    """Validates answers against the schema the document gives their route and status."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def schema(self, path: str, verb: str, status: int, media: str = "application/json") -> Any:
        response = self.document["paths"][path][verb]["responses"][str(status)]
        return response["content"][media]["schema"]

    def check(self, answer: Any, path: str, verb: str, status: int = 200, **kw: Any) -> None:
        schema = {**self.schema(path, verb, status, **kw), **self.document}
        Draft202012Validator(schema).validate(answer)


def no_extras(model: BaseModel) -> None:
    """Every field of an answer is one its model names: the document is complete."""
    assert not model.model_extra, f"{type(model).__name__} lacks {sorted(model.model_extra)}"
    for value in model.__dict__.values():
        for item in value if isinstance(value, list) else [value]:
            open_model = isinstance(item, BaseModel) and item.model_config.get("extra") == "allow"
            if open_model and type(item).__name__ != "UnrecognizedOutput":
                no_extras(item)


def test_every_registered_route_is_documented_with_its_verbs(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    routes = registered()
    assert {path for path, _, _ in routes} == set(document["paths"])
    for path, verbs, names in routes:
        assert set(document["paths"][path]) == verbs, path
        for verb in verbs:
            operation = document["paths"][path][verb]
            params = [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"]
            assert params == names, path
            assert "200" in operation["responses"] and "403" in operation["responses"]
            for status, response in operation["responses"].items():
                schema = response["content"]["application/json"]["schema"]
                if status != "200":
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}
            has_body = verb == "post" and path not in POSTS_WITHOUT_BODY
            assert ("requestBody" in operation) == has_body, (path, verb)
    text = json.dumps(document)
    for ref in set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text)):
        assert ref in document["components"]["schemas"]
    Draft202012Validator.check_schema(document["components"]["schemas"]["LintRequest"])


async def test_refused_without_credentials(jp_fetch: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", "openapi.json", headers={"Authorization": ""})
    assert info.value.code in {401, 403}


async def test_servers_is_the_base_url(jp_fetch: Any, jp_base_url: str) -> None:
    document = await get_json(jp_fetch, "api", "sidecar", "openapi.json")
    assert document["servers"] == [{"url": jp_base_url.rstrip("/")}]


async def test_real_answers_validate_against_the_document(
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
    tmp_path: Path,
) -> None:
    document = await get_json(jp_fetch, "api", "sidecar", "openapi.json")
    checker = Checker(document)
    kernel = "/api/sidecar/kernels/{kernel_id}"

    async def answer(path: str, verb: str, model: type[BaseModel], *parts: str, **kw: Any) -> Any:
        body = await get_json(jp_fetch, *parts, method=verb.upper(), **kw)
        checker.check(body, path, verb)
        no_extras(model.model_validate(body) if model is not api.KernelList else model(body))
        return body

    async def error(path: str, verb: str, status: int, *parts: str, **kw: Any) -> str:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(*parts, method=verb.upper(), **kw)
        assert info.value.code == status and info.value.response is not None
        body = json.loads(info.value.response.body)
        checker.check(body, path, verb, status)
        return str(body["message"])

    await answer("/api/sidecar", "get", api.Info, "api", "sidecar")
    kernel_id = await sc_start_kernel()
    parts = ("api", "sidecar", "kernels", kernel_id)
    code = json.dumps({"code": "x = 41\nprint('hi')\nx + 1", "cell_id": "c1"})
    result = await answer(
        f"{kernel}/execute", "post", api.ExecuteResult, *parts, "execute", body=code
    )
    assert result["status"] == "ok"
    failed = json.dumps({"code": "1 / 0", "cell_id": "c2"})
    await answer(f"{kernel}/execute", "post", api.ExecuteResult, *parts, "execute", body=failed)
    streamed = await jp_fetch(
        *parts, "execute", method="POST", body=code, headers={"Accept": "application/x-ndjson"}
    )
    lines = [json.loads(line) for line in streamed.body.splitlines() if line.strip()]
    assert lines and lines[-1]["status"] == "ok"
    for line in lines:
        checker.check(line, f"{kernel}/execute", "post", media="application/x-ndjson")
    await answer("/api/sidecar/kernels", "get", api.KernelList, "api", "sidecar", "kernels")
    await answer(f"{kernel}/notebook", "get", api.ShadowNotebook, *parts, "notebook")
    await answer(f"{kernel}/cells/{{cell_id}}", "get", api.ShadowCell, *parts, "cells", "c2")
    await answer(f"{kernel}/variables", "get", api.VariablesSnapshot, *parts, "variables")
    rich = await answer(
        f"{kernel}/variables/{{name}}", "get", api.RichVariable, *parts, "variables", "x"
    )
    assert rich["data"]["text/plain"] == "41"
    listing = json.dumps({"code": "z = [1, {'k': 2}]", "cell_id": "c0"})
    await answer(f"{kernel}/execute", "post", api.ExecuteResult, *parts, "execute", body=listing)
    children = await answer(
        f"{kernel}/variables/{{name}}/children",
        "get",
        api.VariableChildren,
        *parts,
        "variables",
        "z",
        "children",
        params={"path": "[1]"},
    )
    assert children["children"][0]["key"] == "k"
    rows = f"{kernel}/variables/{{name}}/rows"
    assert "not a table" in await error(rows, "get", 409, *parts, "variables", "z", "rows")
    reader = json.dumps({"code": "y = x", "cell_id": "c3"})
    await answer(f"{kernel}/execute", "post", api.ExecuteResult, *parts, "execute", body=reader)
    await answer(f"{kernel}/execute", "post", api.ExecuteResult, *parts, "execute", body=code)

    def c3_stale() -> bool:
        return bool(sc_registry.get(kernel_id).notebook.get("c3").stale_because)

    await sc_wait_until(c3_stale, what="c3 to be stale")
    stale = await answer(
        f"{kernel}/cells/{{cell_id}}", "get", api.ShadowCell, *parts, "cells", "c3"
    )
    assert stale["stale_because"][0]["name"] == "x"
    graph = await answer(f"{kernel}/dataflow", "get", api.Dataflow, *parts, "dataflow")
    assert {"from": "c1", "to": "c3", "names": ["x"]} in graph["edges"]
    cells = [{"id": "c1", "source": "x = 41"}, {"id": "c3", "source": "y = x"}]
    plan = json.dumps({"cells": cells, "target": "c3", "direction": "upstream"})
    planned = await answer(f"{kernel}/plan", "post", api.Plan, *parts, "plan", body=plan)
    assert planned["cells"] == ["c1", "c3"]  # c1 ran with another source
    queued = await answer(f"{kernel}/run", "post", api.PlanQueued, *parts, "run", body=plan)
    assert [cell["id"] for cell in queued["cells"]] == ["c1", "c3"]
    last = queued["cells"][-1]["msg_id"]

    def plan_ran() -> bool:
        cell = sc_registry.get(kernel_id).notebook.get("c3")
        return bool(cell.msg_id == last and cell.status == "ok")

    await sc_wait_until(plan_ran, what="the planned cells to run")
    bad = json.dumps({"cells": cells, "target": "nope", "direction": "upstream"})
    await error(f"{kernel}/plan", "post", 400, *parts, "plan", body=bad)

    client = await sc_connect(kernel_id)
    release = tmp_path / "release"
    await client.execute(blocking_cell(release), cell_id="busy")
    queue = sc_registry.get(kernel_id).executor.queue
    await sc_wait_until(lambda: queue.running is not None, what="the blocking cell to run")
    waiting = await client.execute("'later'", cell_id="later")
    await sc_wait_until(lambda: len(queue) == 1, what="the second cell to queue")
    state = await answer(f"{kernel}/queue", "get", api.QueueState, *parts, "queue")
    assert state["running"] is not None and state["queued"][0]["msg_id"] == waiting
    removed = await answer(
        f"{kernel}/queue/{{msg_id}}", "delete", api.QueueRemoval, *parts, "queue", waiting
    )
    assert removed == {"msg_id": waiting, "removed": True}
    interrupted = await answer(
        f"{kernel}/queue/interrupt",
        "post",
        api.QueueInterrupt,
        *parts,
        "queue",
        "interrupt",
        body="",
        params={"continue": "true"},
    )
    assert interrupted["continued"] is True and interrupted["interrupted"] is not None
    await sc_cell_finished(kernel_id, "busy")

    lint = json.dumps({"cells": [{"id": "a", "source": "x=1"}, {"id": "b", "source": "def ("}]})
    linted = await answer(
        "/api/sidecar/lint", "post", api.LintResult, "api", "sidecar", "lint", body=lint
    )
    assert linted["cells"][0]["source"] == "x = 1" and "error" in linted["cells"][1]

    bad = json.dumps({"cells": [{"id": "a", "source": 3}]})
    message = await error("/api/sidecar/lint", "post", 400, "api", "sidecar", "lint", body=bad)
    assert message == "cells.0.source: Input should be a valid string"
    message = await error(f"{kernel}/execute", "post", 400, *parts, "execute", body="{}")
    assert message == "code: Field required"
    await error(f"{kernel}/cells/{{cell_id}}", "get", 404, *parts, "cells", "nope")
    await asyncio.gather(client.collect(waiting), return_exceptions=True)
