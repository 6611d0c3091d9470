"""The sidecar's core, run in both modes by `sc_mode`: a local server (kernels on local ZMQ)
and a gateway-mode one (`--gateway-url` against a real `jupyter kernelgateway`, which the
fixtures start once for the session). Same code, same assertions: recording with cell ids
and outputs, a client leaving mid-run, the output rules (the one table of them), variables,
HTTP execute, and the execution queue.

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

import pytest
from traitlets.config import Config

from jupyter_sidecar_ext.channels.gateway.channels import GatewayChannels
from jupyter_sidecar_ext.pytest_gateway import ServerMode
from jupyter_sidecar_ext.pytest_plugin import (
    HELLO_CODE,
    assert_valid_cells,
    blocking_cell,
    hello_outputs,
)

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


async def settled(sc_execute: Any, kernel_id: str) -> None:
    """Every cell sent before this has been recorded to its end (see the module doc)."""
    assert (await sc_execute(kernel_id, code="None"))["status"] == "ok"


async def cell(jp_fetch: Any, kernel_id: str, cell_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await fetch_json(
        jp_fetch, "api", "sidecar", "kernels", kernel_id, "cells", cell_id
    )
    return result


# -- recording ------------------------------------------------------------------------------------


async def test_cells_are_recorded_with_cell_ids_and_outputs(
    sc_mode: ServerMode, jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_execute: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    first = await client.execute(HELLO_CODE, cell_id="cell-a")
    await client.collect(first)
    await client.collect(await client.execute("1 / 0", cell_id="cell-b"))
    await settled(sc_execute, kernel_id)

    a = await cell(jp_fetch, kernel_id, "cell-a")
    assert (a["msg_id"], a["source"], a["status"]) == (first, HELLO_CODE, "ok")
    assert a["execution_count"] == 1
    assert a["outputs"] == hello_outputs()
    assert a["started"] and a["ended"] and not a["gap"]
    b = await cell(jp_fetch, kernel_id, "cell-b")
    assert b["status"] == "error" and b["execution_count"] == 2
    (error,) = b["outputs"]
    assert (error["ename"], error["evalue"]) == ("ZeroDivisionError", "division by zero")
    assert error["traceback"]

    notebook = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "notebook")
    assert [c["id"] for c in notebook["cells"]][:2] == ["cell-a", "cell-b"]
    assert_valid_cells(notebook["cells"])
    kernels = await fetch_json(jp_fetch, "api", "sidecar", "kernels")
    assert kernel_id in {k["kernel_id"] for k in kernels}


async def test_closing_the_websocket_mid_run_loses_nothing(
    sc_mode: ServerMode,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_cell_finished: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    tmp_path: Path,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    channels = (await sc_registry.ensure(kernel_id)).channels
    if isinstance(channels, GatewayChannels):
        # Clients are let in before the recorder receives; were the last one to leave before
        # it does, what still runs is marked `gap` (tests/tap/test_gateway_outages.py).
        await sc_wait_until(lambda: channels.live, what="the recorder to receive")
    # line 0, then the rest once the server counts no client: the cell must end unwatched
    release = tmp_path / "release"
    code = (
        "import os, time\n"
        "print('line 0', flush=True)\n"
        f"while not os.path.exists({str(release)!r}):\n    time.sleep(0.01)\n"
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
    sidecar = sc_registry.get(kernel_id)
    await sc_wait_until(lambda: not sidecar._clients, what="the server to count no client")
    release.touch()

    long = await sc_cell_finished(kernel_id, "long")  # no reply reaches anyone: the idle ends it
    text = "".join(f"line {i}\n" for i in range(40))
    assert long["outputs"] == [{"output_type": "stream", "name": "stdout", "text": text}]
    assert long["status"] == "ok" and not long["gap"]
    # nobody saw it end (the client's websocket is counted in both modes): a page opened
    # later is told it ran meanwhile
    notebook = sc_registry.get(kernel_id).notebook
    await sc_wait_until(lambda: notebook.get("long").unwatched, what="the cell to be unwatched")


# The output rules, each cell recorded in one kernel in order (a rule must not leak into the
# next cell; "update" changes the output "show" made). Every case holds in both modes: the
# gateway recorder sees the same iopub stream as the local subscription.
OUTPUT_RULES: list[tuple[str, str, list[dict[str, Any]]]] = [
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
        "backspace",
        "import sys\nsys.stdout.write('abc'); sys.stdout.flush()\n"
        "sys.stdout.write('\\b\\bX\\n'); sys.stdout.flush()",
        [{"output_type": "stream", "name": "stdout", "text": "aX\n"}],
    ),
    (
        "clear-output-wait",  # 'old' reaches the kernel's iopub before the clear
        "from IPython.display import clear_output\nprint('old', flush=True)\n"
        "clear_output(wait=True)\nprint('new')",
        [{"output_type": "stream", "name": "stdout", "text": "new\n"}],
    ),
    (
        "clear-output-wait-unflushed",  # clear_output flushes 'old' itself
        "from IPython.display import clear_output\nprint('old')\nclear_output(wait=True)\n"
        "print('new')",
        [{"output_type": "stream", "name": "stdout", "text": "new\n"}],
    ),
    (
        "clear-output-now",
        "from IPython.display import clear_output\nprint('old')\nclear_output()",
        [],
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

# Cells that fail: cell id, code, and the one error output's ename and evalue.
ERROR_RULES: list[tuple[str, str, str, str]] = [
    ("error", "raise ValueError('bad')", "ValueError", "bad"),
    ("zero-division", "1/0", "ZeroDivisionError", "division by zero"),
]


async def test_output_rules(
    sc_mode: ServerMode, jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_execute: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, sc_mode.protocol)
    for cell_id, code, _ in OUTPUT_RULES:
        await client.collect(await client.execute(code, cell_id=cell_id))
    for cell_id, code, _, _ in ERROR_RULES:
        await client.collect(await client.execute(code, cell_id=cell_id))
    await settled(sc_execute, kernel_id)

    recorded = [await cell(jp_fetch, kernel_id, cell_id) for cell_id, _, _ in OUTPUT_RULES]
    assert {c["id"]: c["outputs"] for c in recorded} == {
        cell_id: expected for cell_id, _, expected in OUTPUT_RULES
    }
    assert all(c["status"] == "ok" for c in recorded)
    failed = [await cell(jp_fetch, kernel_id, cell_id) for cell_id, _, _, _ in ERROR_RULES]
    for recorded_error, (cell_id, _, ename, evalue) in zip(failed, ERROR_RULES, strict=True):
        assert recorded_error["status"] == "error", cell_id
        (output,) = recorded_error["outputs"]
        assert (output["ename"], output["evalue"]) == (ename, evalue)
        assert output["traceback"]
    assert_valid_cells([*recorded, *failed])


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
    sc_mode: ServerMode, jp_fetch: Any, sc_start_kernel: Any, sc_execute: Any, sc_execute_error: Any
) -> None:
    kernel_id = await sc_start_kernel()
    result = await sc_execute(kernel_id, code=HELLO_CODE, cell_id="h")
    assert result["status"] == "ok" and result["execution_count"] == 1
    assert result["outputs"] == hello_outputs()
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

    # code that asks for input: JSON mode says so (409, naming the prompt), the run waits in
    # the kernel (answered over POST .../input: tests/execution/test_http_input.py); here it
    # is interrupted, and the kernel goes on
    code, message = await sc_execute_error(kernel_id, {"code": "input('name? ')"})
    assert code == 409 and "name? " in message
    await jp_fetch("api", "kernels", kernel_id, "interrupt", method="POST", body="")
    failed = await sc_execute(kernel_id, code="1 / 0")
    assert failed["status"] == "error" and failed["outputs"][0]["ename"] == "ZeroDivisionError"
    assert (await sc_execute(kernel_id, code="'fine'"))["status"] == "ok"
    assert (await sc_execute_error("no-such-kernel", {"code": "1"}))[0] == 404
    assert (await sc_execute_error(kernel_id, {"code": 1}))[0] == 400


async def test_http_execute_timeout_interrupts_and_the_kernel_stays_usable(
    sc_mode: ServerMode,
    sc_start_kernel: Any,
    sc_cell_finished: Any,
    tmp_path: Path,
    sc_execute: Any,
    sc_execute_error: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    # The timeout interrupts only a cell the kernel has started (else it is left to run,
    # forever here): the kernel is up and idle first, and the timeout leaves room for the
    # start on a loaded machine (it must elapse: each second is the test's own time).
    await settled(sc_execute, kernel_id)
    body = {
        "code": blocking_cell(tmp_path / "never", announce=True),
        "timeout": 5,
        "cell_id": "slow",
    }
    code, message = await sc_execute_error(kernel_id, body)
    assert code == 504 and "interrupted" in message
    assert (await sc_execute(kernel_id, code="'next'"))["status"] == "ok"
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


async def test_interrupt_and_continue_keeps_the_queue(
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
    first = await client.execute(blocking_cell(tmp_path / "never", announce=True), cell_id="a")
    second = await client.execute("'second'", cell_id="b")
    third = await client.execute("'third'", cell_id="c")
    await client.until_output(first)
    queue_ = sc_registry.get(kernel_id).executor.queue
    await sc_wait_until(lambda: len(queue_) == 2, what="two requests queued")

    answer = await fetch_json(
        jp_fetch,
        *("api", "sidecar", "kernels", kernel_id, "queue", "interrupt"),
        method="POST",
        body="",
        params={"continue": "true"},
    )
    assert answer == {"kernel_id": kernel_id, "interrupted": first, "continued": True, "waiting": 2}
    statuses = []
    for msg_id in (first, second, third):
        replies = [m for m in await client.collect(msg_id) if m["channel"] == "shell"]
        content = replies[0]["content"]
        statuses.append((content["status"], content.get("execution_count")))
    assert statuses == [("error", 1), ("ok", 2), ("ok", 3)]
    assert (await sc_cell_finished(kernel_id, "a"))["outputs"][-1]["ename"] == "KeyboardInterrupt"
    assert (await sc_cell_finished(kernel_id, "c"))["status"] == "ok"


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
