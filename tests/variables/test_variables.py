"""Variables API against real kernels: snapshots taken over control, never in the shell."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from jupyter_sidecar_ext.events import VARIABLES_UPDATED_SCHEMA
from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient, blocking_cell

Fetch = Callable[..., Awaitable[Any]]


@pytest.fixture
def jp_server_config(jp_server_config: Config, request: pytest.FixtureRequest) -> Config:
    """A timeout a loaded machine's kernels keep to (a snapshot past it pauses refreshes for
    the back-off, longer than a test waits); SLOW_PATHS tests take a short one instead."""
    settings = {"timeout": 10.0, "backoff": 30.0, "debounce": 0.02}
    settings.update(getattr(request, "param", {}).get("VariablesService", {}))
    jp_server_config["VariablesService"] = Config(settings)
    return jp_server_config


# A test that waits for the timeout to pass many times over: a short one, so that it takes
# seconds (its outcome does not depend on it: see test_echo_kernel_is_unavailable).
SLOW_PATHS = pytest.mark.parametrize(
    "jp_server_config", [{"VariablesService": {"timeout": 1.0}}], indirect=True
)


async def get_variables(jp_fetch: Fetch, kernel_id: str) -> dict[str, Any]:
    response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables")
    payload: dict[str, Any] = json.loads(response.body)
    return payload


async def get_rich(jp_fetch: Fetch, kernel_id: str, name: str) -> dict[str, Any]:
    response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables", name)
    payload: dict[str, Any] = json.loads(response.body)
    return payload


async def wait_variables(
    jp_fetch: Fetch,
    kernel_id: str,
    condition: Callable[[dict[str, Any]], bool],
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Poll the snapshot until `condition` holds (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        payload = await get_variables(jp_fetch, kernel_id)
        if condition(payload):
            return payload
        if loop.time() > deadline:
            raise TimeoutError(f"snapshot never matched: {payload}")
        await asyncio.sleep(0.05)


async def run(client: KernelWebsocketClient, code: str) -> list[dict[str, Any]]:
    replies = await client.collect(await client.execute(code))
    reply = next(m for m in replies if m["header"]["msg_type"] == "execute_reply")
    assert reply["content"]["status"] == "ok", reply["content"]
    return replies


def by_name(payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in payload["variables"]}


def at_count(count: int) -> Callable[[dict[str, Any]], bool]:
    return lambda p: p["state"] == "ok" and p["execution_count"] == count and not p["stale"]


async def test_snapshot_contents(jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(
        client,
        "import os, json\n"
        "n = 42\nx = 1.5\ns = 'héllo'\nb = b'abc'\nl = [1, 2, 3]\nd = {'a': 1, 'b': [2]}\n"
        "t = (1,)\nst = {1, 2}\nnone = None\n_private = 1\n"
        "def f(): pass\nclass K: pass\nk = K()\n",
    )
    payload = await wait_variables(jp_fetch, kernel_id, at_count(1))
    assert payload["kernel_id"] == kernel_id
    assert payload["updated_at"] and payload["kernel_busy"] is False
    variables = by_name(payload)
    # modules, functions, classes and private names are hidden by default
    assert {"os", "json", "f", "K", "_private"}.isdisjoint(variables)
    assert variables["n"] == {
        "name": "n",
        "type": "int",
        "value": "42",
        "size": None,
        "shape": None,
        "length": None,
        "shape_text": None,
        "size_text": None,
    }
    assert variables["x"]["type"] == "float" and variables["x"]["value"] == "1.5"
    assert variables["s"] == {
        "name": "s",
        "type": "str",
        "value": "'héllo'",
        "size": 6,  # UTF-8 bytes
        "shape": [5],
        "length": 5,
        "shape_text": "5 chars",
        "size_text": "6 B",
    }
    assert (variables["b"]["size"], variables["b"]["shape"]) == (3, [3])
    assert variables["l"]["shape"] == [3] and variables["l"]["value"] == "[1, 2, 3]"
    assert variables["d"]["type"] == "dict" and variables["d"]["shape"] == [2]
    assert variables["t"]["shape"] == [1] and variables["st"]["shape"] == [2]
    assert variables["none"]["type"] == "NoneType"
    assert variables["k"]["type"] == "K" and variables["k"]["shape"] is None
    assert payload["count"] == len(payload["variables"]) and payload["truncated"] is False

    rich = await get_rich(jp_fetch, kernel_id, "d")
    assert rich["name"] == "d" and rich["data"]["text/plain"] == "{'a': 1, 'b': [2]}"


async def test_numpy_array_shape(jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any) -> None:
    numpy = pytest.importorskip("numpy")
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, "import numpy as np\na = np.arange(6).reshape(2, 3)\nbig = np.zeros(10**6)")
    variables = by_name(await wait_variables(jp_fetch, kernel_id, at_count(1)))
    assert variables["a"]["type"] == "ndarray" and variables["a"]["shape"] == [2, 3]
    # numpy 2 names a summarized array's shape; before, it was not derivable from the preview
    summarized = [10**6] if int(numpy.__version__.split(".")[0]) >= 2 else None
    assert variables["big"]["shape"] == summarized and variables["big"]["size"] is None
    assert variables["a"]["shape_text"] == "(2, 3)" and variables["a"]["length"] == 2


async def test_dataframe_shape_and_rich_html(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    pytest.importorskip("pandas")
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, "import pandas as pd\ndf = pd.DataFrame({'a': range(1000), 'b': 1.5})")
    variables = by_name(await wait_variables(jp_fetch, kernel_id, at_count(1)))
    assert variables["df"]["type"] == "DataFrame" and variables["df"]["shape"] == [1000, 2]
    rich = await get_rich(jp_fetch, kernel_id, "df")
    assert "<table" in rich["data"]["text/html"]


async def test_get_answers_while_a_cell_runs(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any, tmp_path: Path
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, "before = 1")
    await wait_variables(jp_fetch, kernel_id, at_count(1))
    release = tmp_path / "release"
    msg_id = await client.execute(blocking_cell(release, announce=True, then="after = 2"))
    await client.until_output(msg_id)  # the cell runs, until the test releases it
    payload = await get_variables(jp_fetch, kernel_id)
    assert payload["state"] == "ok" and payload["kernel_busy"] is True
    assert "before" in by_name(payload) and "after" not in by_name(payload)
    assert payload["execution_count"] == 1
    release.touch()
    await client.collect(msg_id)
    payload = await wait_variables(jp_fetch, kernel_id, at_count(2))
    assert "after" in by_name(payload)


async def test_snapshots_add_nothing_other_clients_see(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    first = await sc_connect(kernel_id)
    second = await sc_connect(kernel_id)
    sent = []
    cells = 5
    for i in range(cells):
        replies = await first.collect(await first.execute(f"v{i} = {i}"))
        sent.append(replies[0]["parent_header"]["msg_id"])
        # let the refresh after this cell happen before the next one
        await wait_variables(jp_fetch, kernel_id, at_count(i + 1))
    replies = await first.collect(await first.execute("n_after = 1"))
    reply = next(m for m in replies if m["header"]["msg_type"] == "execute_reply")
    assert reply["content"]["execution_count"] == cells + 1  # no execution but the user's

    await wait_variables(jp_fetch, kernel_id, at_count(cells + 1))
    # everything the kernel published before it answers a request of the second client's
    # (iopub is one ordered stream), its own busy-idle pair included
    await second.collect(await second.send("kernel_info_request", {}))
    seen = [m for m in second.received if m["channel"] == "iopub"]
    inputs = [m for m in seen if m["header"]["msg_type"] == "execute_input"]
    assert len(inputs) == cells + 1
    assert [m["content"]["execution_count"] for m in inputs] == list(range(1, cells + 2))
    # nothing else for any execute_request but the user's own
    foreign = {
        m["parent_header"]["msg_id"]
        for m in seen
        if m["parent_header"].get("msg_type") == "execute_request"
    } - {*sent, replies[0]["parent_header"]["msg_id"]}
    assert foreign == set()
    # what the snapshots did publish is a status pair whose parent JupyterLab does not track
    extra = {(m["header"]["msg_type"], m["parent_header"].get("msg_type")) for m in seen}
    extra -= {(kind, "execute_request") for kind in ("status", "execute_input", "execute_result")}
    assert extra <= {("status", "debug_request"), ("status", "kernel_info_request")}


async def test_large_objects_are_bounded(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(
        client,
        "numbers = list(range(10**6))\nstrings = [str(i) * 3 for i in range(500_000)]\n"
        "text = 'y' * 10**7\nsmall = 1",
    )
    payload = await wait_variables(jp_fetch, kernel_id, at_count(1), timeout=30)
    variables = by_name(payload)
    for name in ("numbers", "strings", "text"):
        assert len(variables[name]["value"]) <= 200
        assert variables[name]["shape"] is None  # cut by the kernel: not derivable
    assert variables["numbers"]["value"].startswith("[0, 1, 2")
    assert variables["strings"]["type"] == "list"
    assert len(json.dumps(payload)) < 10_000

    rich = await get_rich(jp_fetch, kernel_id, "strings")
    assert rich["data"]["text/plain"].startswith("['000',")


async def test_hostile_reprs(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any, tmp_path: Path
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    release = tmp_path / "release"
    await run(
        client,
        "import os, time\n"
        "class Raises:\n    def __repr__(self):\n        raise ValueError('no repr')\n"
        "class Sleeps:\n    def __repr__(self):\n"
        f"        while not os.path.exists({str(release)!r}):\n            time.sleep(0.01)\n"
        "        return 'slept'\n"
        "bad = Raises()\nfine = 1",
    )
    payload = await wait_variables(jp_fetch, kernel_id, at_count(1))
    assert by_name(payload)["bad"]["type"] == "Raises"  # the debugger's default repr instead
    rich = await get_rich(jp_fetch, kernel_id, "bad")
    assert "error" in rich and rich["data"]["text/plain"].startswith("<")

    await run(client, "slow = Sleeps()")
    # the repr never returns until the end of the test: stale at the timeout, not after it
    payload = await wait_variables(jp_fetch, kernel_id, lambda p: p["stale"] and p["reason"])
    assert payload["state"] == "ok" and payload["execution_count"] == 1
    assert "fine" in by_name(payload) and "slow" not in by_name(payload)
    assert "__repr__" in payload["reason"]
    # the server still answers at once, and the rich view refuses instead of hanging
    await get_variables(jp_fetch, kernel_id)
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables", "fine")
    assert info.value.code == 503
    # the shell was never blocked by it
    replies = await run(client, "still = 'responsive'")
    assert any(m["header"]["msg_type"] == "execute_reply" for m in replies)
    release.touch()  # the kernel's control thread is free again


@pytest.fixture
def nodebugger_kernel(jp_kernel_dir: str) -> str:
    """An ipykernel that cannot import debugpy (as where debugpy is not installed)."""
    spec = Path(jp_kernel_dir) / "nodebugger"
    spec.mkdir(parents=True, exist_ok=True)
    launch = (
        "import sys; sys.modules['debugpy'] = None; "
        "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()"
    )
    argv = [sys.executable, "-c", launch, "-f", "{connection_file}"]
    kernel = {"argv": argv, "display_name": "no debugger", "language": "python"}
    (spec / "kernel.json").write_text(json.dumps(kernel), "utf8")
    return "nodebugger"


async def test_kernel_without_debugger_is_unavailable(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any, nodebugger_kernel: str
) -> None:
    kernel_id = await sc_start_kernel(nodebugger_kernel)
    client = await sc_connect(kernel_id)
    await run(client, "a = 1")
    payload = await wait_variables(jp_fetch, kernel_id, lambda p: p["state"] == "unavailable")
    assert "debugger" in payload["reason"] and payload["variables"] == []
    await run(client, "b = 2")  # no error loop: it stays unavailable, quietly
    await asyncio.sleep(0.3)
    assert (await get_variables(jp_fetch, kernel_id))["state"] == "unavailable"
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables", "a")
    assert info.value.code == 503


@SLOW_PATHS
async def test_echo_kernel_is_unavailable(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    """The echo kernel claims "debugger" (ipykernel's base class does) but drops the request
    (told from a slow answer by a kernel_info barrier, whatever the timeout)."""
    kernel_id = await sc_start_kernel("echo")
    client = await sc_connect(kernel_id)
    await client.collect(await client.execute("hello"))
    payload = await wait_variables(jp_fetch, kernel_id, lambda p: p["state"] == "unavailable")
    assert "without answering" in payload["reason"]


async def test_not_found(jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", "kernels", "no-such-kernel", "variables")
    assert info.value.code == 404
    assert "message" in json.loads(info.value.response.body)
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, "here = 1")
    await wait_variables(jp_fetch, kernel_id, at_count(1))
    for name in ("missing", "not-an-identifier"):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables", name)
        assert info.value.code == 404
        assert "Variable not found" in json.loads(info.value.response.body)["message"]


async def test_fresh_kernel_is_pending_then_ok(jp_fetch: Fetch, sc_start_kernel: Any) -> None:
    """A kernel nobody ran code in: the first GET starts a snapshot, without waiting for it."""
    kernel_id = await sc_start_kernel()
    first = await get_variables(jp_fetch, kernel_id)
    assert first["state"] in ("pending", "ok")
    payload = await wait_variables(jp_fetch, kernel_id, lambda p: p["state"] == "ok")
    assert payload["variables"] == [] and payload["execution_count"] is None


async def test_restart_empties_the_snapshot(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, "gone = 1")
    await wait_variables(jp_fetch, kernel_id, at_count(1))
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="{}")
    payload = await wait_variables(
        jp_fetch, kernel_id, lambda p: p["state"] == "ok" and "gone" not in by_name(p)
    )
    assert payload["execution_count"] == 0


async def test_updates_are_pushed(
    jp_fetch: Fetch,
    jp_serverapp: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_wait_until: Callable[..., Awaitable[None]],
) -> None:
    events: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        events.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=VARIABLES_UPDATED_SCHEMA, listener=listener)
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, "p = 1")
    await run(client, "q = 2")
    await wait_variables(jp_fetch, kernel_id, at_count(2))
    snapshot = await get_variables(jp_fetch, kernel_id)
    expected = {
        "kernel_id": kernel_id,
        "state": "ok",
        "execution_count": 2,
        "count": 2,
        "stale": False,
        "rows_version": snapshot["rows_version"],
    }

    def pushed() -> bool:  # listeners run in tasks of their own, after the snapshot
        mine = [event for event in events if event["kernel_id"] == kernel_id]
        return bool(mine) and mine[-1] == expected

    await sc_wait_until(pushed, what="the snapshot's event")
    info = json.loads((await jp_fetch("api", "sidecar")).body)
    assert "variables" in info["features"]


async def test_rows_version_changes_with_the_rows_only(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    """A cell that changes no listed variable keeps the version (a client holding the rows
    skips reading them again); one that changes a row or the count gets a new one."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, "p = 1")
    first = await wait_variables(jp_fetch, kernel_id, at_count(1))
    assert isinstance(first["rows_version"], str) and first["rows_version"]
    await run(client, "1")  # its `_` names are not listed: the rows stay as they were
    same = await wait_variables(jp_fetch, kernel_id, at_count(2))
    assert same["variables"] == first["variables"]
    assert same["rows_version"] == first["rows_version"]
    await run(client, "p = 2")
    changed = await wait_variables(jp_fetch, kernel_id, at_count(3))
    assert changed["rows_version"] not in (None, first["rows_version"])
    await run(client, "q = 3")
    grown = await wait_variables(jp_fetch, kernel_id, at_count(4))
    assert grown["count"] == 2 and grown["rows_version"] != changed["rows_version"]


async def test_refuses_requests_without_credentials(jp_fetch: Fetch, sc_start_kernel: Any) -> None:
    kernel_id = await sc_start_kernel()
    for path in (("variables",), ("variables", "x")):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "api", "sidecar", "kernels", kernel_id, *path, headers={"Authorization": ""}
            )
        assert info.value.code in {401, 403}
