"""`POST /api/sidecar/kernels/{id}/execute` with real kernels: answers, streaming, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_sidecar_ext.pytest_plugin import (
    HELLO_CODE,
    KernelWebsocketClient,
    blocking_cell,
    hello_outputs,
)

NDJSON = "application/x-ndjson"


@dataclass
class BusyKernel:
    """A kernel running a websocket cell that blocks until `release` exists."""

    kernel_id: str
    client: KernelWebsocketClient
    first: str
    release: Path
    queue: Any


StartBusy = Callable[[], Awaitable[BusyKernel]]


@pytest.fixture
def busy_kernel(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_wait_until: Any, tmp_path: Path
) -> StartBusy:
    """Start a kernel and make it busy; its execution queue is empty behind that cell."""

    async def start() -> BusyKernel:
        kernel_id = await sc_start_kernel()
        client = await sc_connect(kernel_id)
        release = tmp_path / "release"
        first = await client.execute(blocking_cell(release))
        queue = sc_registry.get(kernel_id).executor.queue
        await sc_wait_until(lambda: queue.running is not None, what="the first cell to run")
        return BusyKernel(kernel_id, client, first, release, queue)

    return start


async def test_execute_answers_outputs_as_the_shadow_model(
    sc_start_kernel: Any, sc_cell_finished: Any, sc_execute: Any
) -> None:
    kernel_id = await sc_start_kernel()
    result = await sc_execute(kernel_id, code=HELLO_CODE)
    assert result["status"] == "ok"
    assert result["execution_count"] == 1
    assert result["outputs"] == hello_outputs()
    nbformat.validate(new_notebook(cells=[new_code_cell("x", outputs=result["outputs"])]))
    cell = await sc_cell_finished(kernel_id, result["msg_id"])
    assert cell["outputs"] == result["outputs"] and cell["status"] == "ok"

    second = await sc_execute(kernel_id, code="print('again')", cell_id="my-cell")
    assert second["execution_count"] == 2
    cell = await sc_cell_finished(kernel_id, "my-cell")
    assert cell["msg_id"] == second["msg_id"] and cell["source"] == "print('again')"


async def test_errors(sc_start_kernel: Any, sc_execute: Any) -> None:
    kernel_id = await sc_start_kernel()
    failed = await sc_execute(kernel_id, code="1 / 0")
    assert failed["status"] == "error"
    assert failed["outputs"][0]["output_type"] == "error"
    assert failed["outputs"][0]["ename"] == "ZeroDivisionError"
    assert "message" not in failed
    # an HTTP error does not stop what follows (stop_on_error is off for HTTP)
    assert (await sc_execute(kernel_id, code="'fine'"))["status"] == "ok"


async def test_ndjson_streams_messages_then_the_reply_and_the_result(
    jp_fetch: Any, sc_start_kernel: Any
) -> None:
    kernel_id = await sc_start_kernel()
    chunks: list[bytes] = []
    response = await jp_fetch(
        "api",
        "sidecar",
        "kernels",
        kernel_id,
        "execute",
        method="POST",
        body=json.dumps({"code": "print('a', flush=True)\nprint('b')\n'c'"}),
        headers={"Accept": NDJSON},
        streaming_callback=chunks.append,
    )
    assert response.headers["Content-Type"] == NDJSON
    lines = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    result = lines[-1]
    reply = lines[-2]
    messages = lines[:-2]
    assert reply["msg_type"] == "execute_reply" and reply["channel"] == "shell"
    assert reply["content"]["status"] == "ok"
    assert reply["parent_header"]["msg_id"] == result["msg_id"]
    assert result["status"] == "ok" and result["execution_count"] == 1
    assert messages[0]["msg_type"] == "status"
    assert messages[0]["content"] == {"execution_state": "busy"}
    assert messages[-1]["content"] == {"execution_state": "idle"}
    assert all(m["channel"] == "iopub" for m in messages)
    assert all(m["parent_header"]["msg_id"] == result["msg_id"] for m in messages)
    assert all({"header", "metadata", "msg_id"} <= set(m) for m in messages)
    text = "".join(m["content"]["text"] for m in messages if m["msg_type"] == "stream")
    assert text == "a\nb\n"
    assert "execute_result" in [m["msg_type"] for m in messages]


async def test_timeout_interrupts_and_the_kernel_stays_usable(
    sc_start_kernel: Any,
    sc_cell_finished: Any,
    tmp_path: Path,
    sc_execute: Any,
    sc_execute_error: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    # The timeout interrupts only a cell the kernel has started, in its user code (else it is
    # left to run, forever here): the kernel is up and idle first, the cell announces itself
    # (a SIGINT before ipykernel's handler is in place is ignored), and the timeout leaves
    # room for the start on a loaded machine (it must elapse: each second is the test's).
    assert (await sc_execute(kernel_id, code="None"))["status"] == "ok"
    body = {"code": blocking_cell(tmp_path / "never", announce=True), "timeout": 5}
    code, message = await sc_execute_error(kernel_id, {**body, "cell_id": "slow"})
    assert code == 504
    assert "interrupted" in message
    assert (await sc_execute(kernel_id, code="'next'"))["status"] == "ok"
    slow = await sc_cell_finished(kernel_id, "slow")
    assert slow["status"] == "error"
    assert slow["outputs"][-1]["ename"] == "KeyboardInterrupt"


async def test_http_runs_in_the_queue_in_order_with_websocket_cells(
    jp_fetch: Any, busy_kernel: StartBusy, sc_wait_until: Any, sc_execute: Any
) -> None:
    busy = await busy_kernel()
    queue, client = busy.queue, busy.client
    posted = asyncio.ensure_future(sc_execute(busy.kernel_id, code="'from http'"))
    await sc_wait_until(lambda: len(queue) == 1, what="the HTTP request to queue")
    last = await client.execute("'last'")
    await sc_wait_until(lambda: len(queue) == 2, what="the last cell to queue")

    listed = json.loads((await jp_fetch("api", "sidecar", "kernels", busy.kernel_id, "queue")).body)
    assert [e["source"] for e in listed["queued"]] == ["http", "websocket"]
    assert listed["queued"][0]["code"] == "'from http'"
    busy.release.touch()
    result = await posted
    assert result["status"] == "ok" and result["execution_count"] == 2
    counts: dict[str, int] = {}
    while len(counts) < 2:  # both shell replies, whatever comes between them on iopub
        msg = await client.receive()
        assert msg is not None
        if msg["channel"] == "shell":
            counts[msg["parent_header"]["msg_id"]] = msg["content"]["execution_count"]
    assert counts == {busy.first: 1, last: 3}


async def test_timeout_while_queued_takes_it_out(
    busy_kernel: StartBusy, sc_cell_finished: Any, sc_execute_error: Any
) -> None:
    busy = await busy_kernel()
    body = json.dumps({"code": "'late'", "timeout": 0.5, "cell_id": "late"})
    code, message = await sc_execute_error(busy.kernel_id, body)
    assert code == 504 and "queued" in message
    assert len(busy.queue) == 0
    assert (await sc_cell_finished(busy.kernel_id, "late"))["status"] == "aborted"
    busy.release.touch()
    await busy.client.collect(busy.first)


async def test_dequeued_http_request_answers_aborted(
    jp_fetch: Any, busy_kernel: StartBusy, sc_wait_until: Any, sc_execute: Any
) -> None:
    busy = await busy_kernel()
    kernel_id, queue = busy.kernel_id, busy.queue
    posted = asyncio.ensure_future(sc_execute(kernel_id, code="'never'"))
    await sc_wait_until(lambda: len(queue) == 1, what="the HTTP request to queue")
    msg_id = queue.waiting()[0].msg_id
    await jp_fetch("api", "sidecar", "kernels", kernel_id, "queue", msg_id, method="DELETE")
    result = await posted
    assert result["status"] == "aborted" and result["execution_count"] is None
    assert result["outputs"] == [] and "message" in result
    busy.release.touch()
    await busy.client.collect(busy.first)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("not json", "JSON"),
        ("[]", "object"),
        ("{}", "code"),
        ('{"code": 1}', "code"),
        ('{"code": "1", "timeout": 0}', "timeout"),
        ('{"code": "1", "timeout": -1}', "timeout"),
        ('{"code": "1", "timeout": "5"}', "timeout"),
        ('{"code": "1", "timeout": true}', "timeout"),
        ('{"code": "1", "cell_id": 5}', "cell_id"),
        ('{"code": "1", "cell_id": ""}', "cell_id"),
        ('{"code": "1", "silent": true}', "silent"),
    ],
)
async def test_bad_bodies_are_400(body: str, needle: str, sc_execute_error: Any) -> None:
    """The body is judged before the kernel is looked up: no kernel needed."""
    code, message = await sc_execute_error("any-kernel", body)
    assert code == 400
    assert needle in message


async def test_unknown_kernel_is_404(sc_execute_error: Any) -> None:
    code, _ = await sc_execute_error("no-such-kernel", '{"code": "1"}')
    assert code == 404
