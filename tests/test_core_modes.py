"""The sidecar's core, run in both modes by `sc_mode`: a local server (kernels on local ZMQ)
and a gateway-mode one (`--gateway-url` against a real `jupyter kernelgateway`, which the
fixtures start once for the session). Same code, same assertions: recording with cell ids
and outputs, a client leaving mid-run, the output rules, variables, HTTP execute, and the
execution queue.

In gateway mode the outputs reach the recorder on its own websocket while replies travel on
the client's: a test waits for what it asserts with `settled` (an HTTP execution answers
only once the recorder has seen its idle, and the kernel's iopub is one ordered stream, so
every earlier cell's messages have been recorded by then).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from jupyter_sidecar_ext.pytest_gateway import ServerMode
from jupyter_sidecar_ext.pytest_plugin import blocking_cell

NDJSON = "application/x-ndjson"


@pytest.fixture
def jp_server_config(sc_mode: ServerMode) -> Config:
    return sc_mode.config


@pytest.fixture(autouse=True)
def _runs_in_its_mode(sc_mode: ServerMode, jp_serverapp: Any) -> None:
    """Each test's server really runs its kernels the way its mode says."""
    assert jp_serverapp.gateway_config.gateway_enabled == (sc_mode.name == "gateway")


async def fetch_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch(*parts, **kwargs)
    return json.loads(response.body)


async def execute(jp_fetch: Any, kernel_id: str, **body: Any) -> dict[str, Any]:
    """POST .../execute; the JSON answer (200 expected)."""
    result: dict[str, Any] = await fetch_json(
        jp_fetch, "api", "sidecar", "kernels", kernel_id, "execute", method="POST",
        body=json.dumps(body),
    )  # fmt: skip
    return result


async def execute_error(jp_fetch: Any, kernel_id: str, body: dict[str, Any]) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await execute(jp_fetch, kernel_id, **body)
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)["message"]


async def settled(jp_fetch: Any, kernel_id: str) -> None:
    """Every cell sent before this has been recorded to its end (see the module doc)."""
    assert (await execute(jp_fetch, kernel_id, code="None"))["status"] == "ok"


async def cell(jp_fetch: Any, kernel_id: str, cell_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await fetch_json(
        jp_fetch, "api", "sidecar", "kernels", kernel_id, "cells", cell_id
    )
    return result


def assert_valid(cells: list[dict[str, Any]]) -> None:
    """The recorded outputs form an nbformat-valid notebook."""
    nbformat.validate(
        new_notebook(
            cells=[
                new_code_cell(
                    c["source"], outputs=c["outputs"], execution_count=c["execution_count"]
                )
                for c in cells
            ]
        )
    )


# -- recording ------------------------------------------------------------------------------------


async def test_cells_are_recorded_with_cell_ids_and_outputs(
    sc_mode: ServerMode, jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    first = await client.execute("print('hello')\n6 * 7", cell_id="cell-a")
    await client.collect(first)
    await client.collect(await client.execute("1 / 0", cell_id="cell-b"))
    await settled(jp_fetch, kernel_id)

    a = await cell(jp_fetch, kernel_id, "cell-a")
    assert (a["msg_id"], a["source"], a["status"]) == (first, "print('hello')\n6 * 7", "ok")
    assert a["execution_count"] == 1
    assert a["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "data": {"text/plain": "42"},
            "metadata": {},
        },
    ]
    assert a["started"] and a["ended"] and not a["gap"]
    b = await cell(jp_fetch, kernel_id, "cell-b")
    assert b["status"] == "error" and b["execution_count"] == 2
    (error,) = b["outputs"]
    assert (error["ename"], error["evalue"]) == ("ZeroDivisionError", "division by zero")
    assert error["traceback"]

    notebook = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "notebook")
    assert [c["id"] for c in notebook["cells"]][:2] == ["cell-a", "cell-b"]
    assert_valid(notebook["cells"])
    kernels = await fetch_json(jp_fetch, "api", "sidecar", "kernels")
    assert kernel_id in {k["kernel_id"] for k in kernels}


async def test_closing_the_websocket_mid_run_loses_nothing(
    sc_mode: ServerMode, sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    code = (
        "import time\n"
        "print('line 0', flush=True)\n"
        "time.sleep(0.5)\n"
        "for i in range(1, 40):\n"
        "    print(f'line {i}', flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    msg_id = await client.execute(code, cell_id="long")
    while True:  # the first line, then nobody is connected any more
        msg = await client.receive()
        assert msg is not None
        if msg["header"]["msg_type"] == "stream" and msg["parent_header"]["msg_id"] == msg_id:
            break
    client.close()

    long = await sc_cell_finished(kernel_id, "long")  # no reply reaches anyone: the idle ends it
    text = "".join(f"line {i}\n" for i in range(40))
    assert long["outputs"] == [{"output_type": "stream", "name": "stdout", "text": text}]
    assert long["status"] == "ok" and not long["gap"]


OUTPUT_CELLS: list[tuple[str, str, list[dict[str, Any]]]] = [
    (
        "stream-merge",
        "import sys\nprint('a'); print('b', flush=True)\nsys.stderr.write('e\\n')\n"
        "sys.stderr.flush()\nprint('c')",
        [
            {"output_type": "stream", "name": "stdout", "text": "a\nb\n"},
            {"output_type": "stream", "name": "stderr", "text": "e\n"},
            {"output_type": "stream", "name": "stdout", "text": "c\n"},
        ],
    ),
    (
        "carriage-return",
        "import sys\nfor i in range(5):\n    sys.stdout.write(f'\\r{i*25}%'); sys.stdout.flush()\n"
        "print()\nprint('done')",
        [{"output_type": "stream", "name": "stdout", "text": "100%\ndone\n"}],
    ),
    (
        "clear-output-wait",
        "from IPython.display import clear_output\nprint('old', flush=True)\n"
        "clear_output(wait=True)\nprint('new')",
        [{"output_type": "stream", "name": "stdout", "text": "new\n"}],
    ),
    (
        "show",
        "from IPython.display import display\nh = display('v1', display_id='progress')",
        [{"output_type": "display_data", "data": {"text/plain": "'v2'"}, "metadata": {}}],
    ),
    (
        "update",  # updates every output with that display id, in every cell
        "display('v1-again', display_id='progress')\nh.update('v2')",
        [{"output_type": "display_data", "data": {"text/plain": "'v2'"}, "metadata": {}}],
    ),
]


async def test_output_rules(
    sc_mode: ServerMode, jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    for cell_id, code, _ in OUTPUT_CELLS:
        await client.collect(await client.execute(code, cell_id=cell_id))
    await client.collect(await client.execute("raise ValueError('bad')", cell_id="error"))
    await settled(jp_fetch, kernel_id)

    recorded = [await cell(jp_fetch, kernel_id, cell_id) for cell_id, _, _ in OUTPUT_CELLS]
    assert {c["id"]: c["outputs"] for c in recorded} == {
        cell_id: expected for cell_id, _, expected in OUTPUT_CELLS
    }
    assert all(c["status"] == "ok" for c in recorded)
    failed = await cell(jp_fetch, kernel_id, "error")
    assert failed["status"] == "error"
    assert [(o["ename"], o["evalue"]) for o in failed["outputs"]] == [("ValueError", "bad")]
    assert_valid([*recorded, failed])


# -- variables ------------------------------------------------------------------------------------


async def test_variables_snapshot(
    sc_mode: ServerMode, jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    await client.collect(await client.execute("answer = 42\nwords = ['a', 'b']", cell_id="v"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        payload = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "variables")
        if payload["state"] == "ok" and payload["execution_count"] == 1:
            break
        assert payload["state"] != "unavailable", payload
        assert loop.time() < deadline, payload
        await asyncio.sleep(0.05)  # polling the cache, as sc_wait_until polls state
    variables = {v["name"]: v for v in payload["variables"]}
    assert (variables["answer"]["type"], variables["answer"]["value"]) == ("int", "42")
    assert variables["words"]["type"] == "list"
    rich = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "variables", "words")
    assert "['a', 'b']" in rich["data"]["text/plain"]


# -- HTTP execute ---------------------------------------------------------------------------------


async def test_http_execute_answers_streams_and_refuses(
    sc_mode: ServerMode, jp_fetch: Any, sc_start_kernel: Any
) -> None:
    kernel_id = await sc_start_kernel()
    result = await execute(jp_fetch, kernel_id, code="print('hello')\n6 * 7", cell_id="h")
    assert result["status"] == "ok" and result["execution_count"] == 1
    assert result["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "data": {"text/plain": "42"},
            "metadata": {},
        },
    ]
    recorded = await cell(jp_fetch, kernel_id, "h")
    assert recorded["msg_id"] == result["msg_id"] and recorded["outputs"] == result["outputs"]

    chunks: list[bytes] = []
    await jp_fetch(
        "api", "sidecar", "kernels", kernel_id, "execute", method="POST",
        body=json.dumps({"code": "print('a', flush=True)\n'b'"}),
        headers={"Accept": NDJSON}, streaming_callback=chunks.append,
    )  # fmt: skip
    lines = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    *messages, reply, final = lines
    assert final["status"] == "ok" and final["execution_count"] == 2
    assert (reply["channel"], reply["msg_type"]) == ("shell", "execute_reply")
    assert messages[0]["content"] == {"execution_state": "busy"}
    assert messages[-1]["content"] == {"execution_state": "idle"}
    assert {m["parent_header"]["msg_id"] for m in lines[:-1]} == {final["msg_id"]}

    asked = await execute(jp_fetch, kernel_id, code="input('name? ')")
    assert asked["status"] == "error" and "input" in asked["message"]
    failed = await execute(jp_fetch, kernel_id, code="1 / 0")
    assert failed["status"] == "error" and failed["outputs"][0]["ename"] == "ZeroDivisionError"
    assert (await execute(jp_fetch, kernel_id, code="'fine'"))["status"] == "ok"
    assert (await execute_error(jp_fetch, "no-such-kernel", {"code": "1"}))[0] == 404
    assert (await execute_error(jp_fetch, kernel_id, {"code": 1}))[0] == 400


async def test_http_execute_timeout_interrupts_and_the_kernel_stays_usable(
    sc_mode: ServerMode,
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_cell_finished: Any,
    tmp_path: Path,
) -> None:
    kernel_id = await sc_start_kernel()
    body = {
        "code": blocking_cell(tmp_path / "never", announce=True),
        "timeout": 1,
        "cell_id": "slow",
    }
    code, message = await execute_error(jp_fetch, kernel_id, body)
    assert code == 504 and "interrupted" in message
    assert (await execute(jp_fetch, kernel_id, code="'next'"))["status"] == "ok"
    slow = await sc_cell_finished(kernel_id, "slow")
    assert slow["status"] == "error"
    assert slow["outputs"][-1]["ename"] == "KeyboardInterrupt"


# -- the execution queue --------------------------------------------------------------------------


async def test_a_queued_cell_is_removed_without_interrupting(
    sc_mode: ServerMode,
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
    tmp_path: Path,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    release = tmp_path / "release"
    first = await client.execute(blocking_cell(release, announce=True), cell_id="first")
    second = await client.execute("'second'", cell_id="second")
    third = await client.execute("'third'", cell_id="third")
    await client.until_output(first)
    queue_ = sc_registry.get(kernel_id).executor.queue
    await sc_wait_until(lambda: len(queue_) == 2, what="two requests queued")

    queue = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "queue")
    assert queue["enabled"] is True and queue["running"]["msg_id"] == first
    assert [(e["msg_id"], e["cell_id"]) for e in queue["queued"]] == [
        (second, "second"),
        (third, "third"),
    ]
    removed = await fetch_json(
        jp_fetch, "api", "sidecar", "kernels", kernel_id, "queue", second, method="DELETE"
    )
    assert removed == {"msg_id": second, "removed": True}
    mine = await client.collect(second)  # what ipykernel sends for an aborted request
    assert [(m["channel"], m["header"]["msg_type"], m["content"]) for m in mine] == [
        ("iopub", "status", {"execution_state": "busy"}),
        ("shell", "execute_reply", {"status": "aborted"}),
        ("iopub", "status", {"execution_state": "idle"}),
    ]
    assert (await sc_cell_finished(kernel_id, "second"))["status"] == "aborted"

    release.touch()  # the running cell was never interrupted
    replies = [m for m in await client.collect(first) if m["channel"] == "shell"]
    assert replies[0]["content"]["status"] == "ok"
    replies = [m for m in await client.collect(third) if m["channel"] == "shell"]
    assert (replies[0]["content"]["status"], replies[0]["content"]["execution_count"]) == ("ok", 2)
    queue = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "queue")
    assert queue["running"] is None and queue["queued"] == []


async def test_other_shell_requests_keep_their_place_behind_queued_cells(
    sc_mode: ServerMode, sc_start_kernel: Any, sc_connect: Any, tmp_path: Path
) -> None:
    """An inspection sent after a queued `x = 42` sees x, as in a plain kernel."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    release = tmp_path / "release"
    first = await client.execute(blocking_cell(release, announce=True), cell_id="first")
    await client.until_output(first)
    await client.execute("x = 42", cell_id="second")
    inspect = await client.send("inspect_request", {"code": "x", "cursor_pos": 1})
    release.touch()
    replies = await client.collect(inspect)
    (reply,) = [m for m in replies if m["header"]["msg_type"] == "inspect_reply"]
    assert reply["content"]["found"] is True
