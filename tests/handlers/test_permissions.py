"""The permission each route needs, route by route, against a real kernel holding a secret.

Routes that reveal what a kernel holds (its notebook, cells, variables, queued code) or make it
run anything need `kernels:execute`, as stock jupyter_server needs to open a kernel's
channels; the kernels list and the API's own description need `kernels:read`; lint
`contents:write`. REQUIRED is the table; it must name every route and verb make_handlers
registers, and README's "Permissions per route" must say the same.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.auth import Authorizer
from traitlets import List, Unicode

from jupyter_sidecar_ext.handlers import Services, SidecarHandler, make_handlers

VERBS = ("GET", "POST", "PUT", "PATCH", "DELETE")
SECRET = "hunter2"
README = Path(__file__).parents[2] / "README.md"

REQUIRED: dict[tuple[str, str], str] = {
    ("GET", "/api/sidecar"): "kernels:read",
    ("GET", "/api/sidecar/openapi.json"): "kernels:read",
    ("GET", "/api/sidecar/kernels"): "kernels:read",
    ("GET", "/api/sidecar/kernels/{kernel_id}/notebook"): "kernels:execute",
    ("GET", "/api/sidecar/kernels/{kernel_id}/cells/{cell_id}"): "kernels:execute",
    ("GET", "/api/sidecar/kernels/{kernel_id}/variables"): "kernels:execute",
    ("GET", "/api/sidecar/kernels/{kernel_id}/variables/{name}"): "kernels:execute",
    ("GET", "/api/sidecar/kernels/{kernel_id}/variables/{name}/children"): "kernels:execute",
    ("GET", "/api/sidecar/kernels/{kernel_id}/variables/{name}/rows"): "kernels:execute",
    ("POST", "/api/sidecar/kernels/{kernel_id}/execute"): "kernels:execute",
    ("GET", "/api/sidecar/kernels/{kernel_id}/queue"): "kernels:execute",
    ("DELETE", "/api/sidecar/kernels/{kernel_id}/queue/{msg_id}"): "kernels:execute",
    ("POST", "/api/sidecar/kernels/{kernel_id}/input"): "kernels:execute",
    ("POST", "/api/sidecar/kernels/{kernel_id}/queue/interrupt"): "kernels:execute",
    ("GET", "/api/sidecar/kernels/{kernel_id}/dataflow"): "kernels:execute",
    ("POST", "/api/sidecar/kernels/{kernel_id}/plan"): "kernels:execute",
    ("POST", "/api/sidecar/kernels/{kernel_id}/run"): "kernels:execute",
    ("POST", "/api/sidecar/lint"): "contents:write",
    ("GET", "/api/sidecar/{path}"): "kernels:read",  # unknown paths: a JSON 404
}
PLAN = {"cells": [{"id": "c", "source": "1"}], "target": "c", "direction": "downstream"}
BODIES = {
    "execute": {"code": "1"},
    "lint": {"cells": []},
    "input": {"value": "x"},
    "plan": PLAN,
    "run": PLAN,
}
# what a granted request answers: input waits for none here (409)
# and a string has neither children nor rows (409)
GRANTED = {
    "/api/sidecar/kernels/{kernel_id}/input": {409},
    "/api/sidecar/kernels/{kernel_id}/variables/{name}/children": {409},
    "/api/sidecar/kernels/{kernel_id}/variables/{name}/rows": {409},
}


def registered() -> set[tuple[str, str]]:
    """(verb, path template) of every verb each registered handler implements."""
    found = set()
    for pattern, handler, _ in make_handlers(Services(registry=None)):  # type: ignore[arg-type]
        path = re.sub(r"\(\?P<([^>]+)>[^)]*\)", r"{\1}", pattern).replace("/?", "")
        for verb in VERBS:
            if getattr(handler, verb.lower()) is not getattr(SidecarHandler, verb.lower()):
                found.add((verb, path))
    return found


def test_every_route_has_a_row() -> None:
    assert registered() == set(REQUIRED)


def test_the_readme_table_says_the_same() -> None:
    section = README.read_text(encoding="utf-8").split("### Permissions per route", 1)[1]
    rows = set(re.findall(r"^\| (\w+) \| `([^`]+)` \| `([\w:]+)` \|", section, re.MULTILINE))
    assert rows == {(verb, path, need) for (verb, path), need in REQUIRED.items()}


async def test_each_route_refuses_a_request_without_a_token(jp_fetch: Any) -> None:
    """The status stock's own API answers (its kernels list), on every route and verb."""
    stock = await jp_fetch("api", "kernels", headers={"Authorization": ""}, raise_error=False)
    assert stock.code == 403
    values = {"kernel_id": "k", "cell_id": "c", "name": "n", "msg_id": "m", "path": "p"}
    for verb, template in REQUIRED:
        path = template.format(**values)
        response = await jp_fetch(
            *path.strip("/").split("/"),
            method=verb,
            body=None if verb in ("GET", "DELETE") else "{}",
            headers={"Authorization": ""},
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        assert response.code == stock.code, f"{verb} {template}: {response.code}"


class GrantingAuthorizer(Authorizer):
    """Grants the actions and `resource:action` pairs it is configured with, nothing else."""

    grants = List(Unicode(), ["*"], config=True, help="actions or resource:action pairs")

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        return bool({"*", action, f"{resource}:{action}"} & set(self.grants))


def granted(grants: list[str], permission: str) -> bool:
    action = permission.split(":")[1]
    return bool({"*", action, permission} & set(grants))


ALL_BUT_EXECUTE = ["read", "write", "contents:execute", "kernelspecs:execute"]
AUTHORIZERS = {
    "read-only": ["read"],
    "no-execute": ALL_BUT_EXECUTE,
    "everything": ["*"],  # the control: the secret is there to be leaked
}


@pytest.mark.parametrize(
    "jp_server_config",
    [
        pytest.param(
            {
                "ServerApp": {"authorizer_class": GrantingAuthorizer},
                "GrantingAuthorizer": {"grants": grants},
            },
            id=name,
        )
        for name, grants in AUTHORIZERS.items()
    ],
    indirect=True,
)
async def test_each_route_needs_its_permission(
    jp_serverapp: Any, jp_fetch: Any, sc_registry: Any, sc_wait_until: Any
) -> None:
    grants = jp_serverapp.authorizer.grants
    kernel_id = await jp_serverapp.kernel_manager.start_kernel()
    # The secret is put in the kernel behind the server's back (this authorizer may refuse
    # every way through it); the sidecar records the cell from its own iopub subscription,
    # which must be receiving first (what iopub sends before it subscribes is never seen).
    await sc_registry.ensure(kernel_id)
    client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    msg_id = ""

    def recorded() -> bool:
        sidecar = sc_registry.find(kernel_id)
        cell = None if sidecar is None else sidecar.notebook.get(msg_id)
        return cell is not None and cell.status == "ok" and cell.idle  # outputs too

    try:
        msg_id = client.execute(f"secret = {SECRET!r}\nprint(secret)")
        await sc_wait_until(recorded, what="the secret cell to be recorded")
    finally:
        client.stop_channels()
    values = {"kernel_id": kernel_id, "cell_id": msg_id, "name": "secret"}
    values |= {"msg_id": "nope", "path": "nothing/here"}
    leaked = []
    for (verb, template), permission in REQUIRED.items():
        path = template.format(**values)
        body = BODIES.get(path.rsplit("/", 1)[-1])
        response = await jp_fetch(
            *path.strip("/").split("/"),
            method=verb,
            body=None if body is None else json.dumps(body),
            raise_error=False,
            allow_nonstandard_methods=True,
        )
        what = f"{verb} {template} with {grants}: {response.code} {response.body[:200]!r}"
        if granted(grants, permission):
            assert response.code in GRANTED.get(template, {200, 404}), what
            if SECRET in response.body.decode():
                leaked.append(template)
        else:
            resource, action = permission.split(":")
            assert response.code == 403, what
            message = f"User is not authorized to {action} on resource: {resource}."
            assert json.loads(response.body)["message"] == message, what
    if grants == ["*"]:  # the routes that hold the secret do serve it to who may see it
        assert set(leaked) == {
            "/api/sidecar/kernels/{kernel_id}/notebook",
            "/api/sidecar/kernels/{kernel_id}/cells/{cell_id}",
            "/api/sidecar/kernels/{kernel_id}/variables/{name}",
            "/api/sidecar/kernels/{kernel_id}/dataflow",  # each cell's source as it ran
        } | ({"/api/sidecar/kernels/{kernel_id}/variables"} & set(leaked))
    else:
        assert leaked == []
