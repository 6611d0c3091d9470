"""The rich view serves only what the variables list would show: a name the list hides
(private, a hidden type, or one the kernel never lists such as `In`, the whole input history)
answers 404 like an unknown one, also before the snapshot has caught up with the kernel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient

Fetch = Callable[..., Awaitable[Any]]

SETUP = "import os\n_priv = 'hunter2'\nshown = 'visible'\nmod = os\n"
# Never listed by the kernel (ipykernel's debugger leaves them out), whatever our settings.
NEVER_LISTED = ("In", "Out", "__builtins__", "get_ipython", "exit", "_i1", "_ih", "_oh")


async def run(client: KernelWebsocketClient, code: str) -> None:
    replies = await client.collect(await client.execute(code))
    reply = next(m for m in replies if m["header"]["msg_type"] == "execute_reply")
    assert reply["content"]["status"] == "ok", reply["content"]


async def listed_after_first_cell(jp_fetch: Fetch, kernel_id: str) -> set[str]:
    """The names of the snapshot taken after the first cell (polled, bounded)."""
    deadline = asyncio.get_running_loop().time() + 30
    while True:
        response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables")
        payload = json.loads(response.body)
        if payload["state"] == "ok" and payload["execution_count"] == 1 and not payload["stale"]:
            return {variable["name"] for variable in payload["variables"]}
        assert asyncio.get_running_loop().time() < deadline, payload
        await asyncio.sleep(0.05)


async def rich_text(jp_fetch: Fetch, kernel_id: str, name: str) -> str:
    response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables", name)
    text: str = json.loads(response.body)["data"]["text/plain"]
    return text


async def rich_status(jp_fetch: Fetch, kernel_id: str, name: str) -> int:
    try:
        await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables", name)
    except HTTPClientError as error:
        assert error.response is not None
        assert json.loads(error.response.body)["message"] == f"Variable not found: {name}"
        return error.code
    return 200


async def test_hidden_names_are_404_with_default_settings(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, SETUP)
    assert await listed_after_first_cell(jp_fetch, kernel_id) == {"shown"}
    for name in ("_priv", "os", "mod", *NEVER_LISTED):
        assert await rich_status(jp_fetch, kernel_id, name) == 404, name
    assert await rich_text(jp_fetch, kernel_id, "shown") == "'visible'"

    # Names the snapshot does not know yet are checked against a fresh listing: a new
    # visible name is served at once, a new hidden one (a module) is not.
    await run(client, "late = 'new'\nlate_mod = os\n_late = 1\n")
    assert await rich_text(jp_fetch, kernel_id, "late") == "'new'"
    for name in ("late_mod", "_late"):
        assert await rich_status(jp_fetch, kernel_id, name) == 404, name
    # A listed name that became a hidden type is no longer served, stale snapshot or not.
    await run(client, "shown = os\n")
    assert await rich_status(jp_fetch, kernel_id, "shown") == 404


@pytest.mark.parametrize(
    "jp_server_config",
    [{"VariablesService": {"show_private": True, "hidden_types": []}}],
    indirect=True,
)
async def test_listed_with_show_private_and_no_hidden_types_means_served(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    """The same filter settings as the list: what it shows, the rich view serves."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, SETUP)
    listed = await listed_after_first_cell(jp_fetch, kernel_id)
    assert {"_priv", "shown", "os", "mod"} <= listed
    assert await rich_text(jp_fetch, kernel_id, "_priv") == "'hunter2'"
    assert "module 'os'" in await rich_text(jp_fetch, kernel_id, "mod")
    for name in NEVER_LISTED:  # not in the list either: still 404
        assert name not in listed
        assert await rich_status(jp_fetch, kernel_id, name) == 404, name
