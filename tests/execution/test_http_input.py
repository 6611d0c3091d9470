"""Pending input with real kernels: recorded on the cell, answered with `POST .../input`, for
HTTP executions (streamed and JSON) and for a page's run after the page has gone."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

NDJSON = "application/x-ndjson"
ASK = "name = input('name? ')\nprint('hello', name)"


async def post(jp_fetch: Any, kernel_id: str, route: str, body: Any, **kwargs: Any) -> Any:
    return await jp_fetch(
        "api", "sidecar", "kernels", kernel_id, route, method="POST", body=json.dumps(body),
        **kwargs,
    )  # fmt: skip


async def post_error(jp_fetch: Any, kernel_id: str, route: str, body: Any) -> tuple[int, Any]:
    with pytest.raises(HTTPClientError) as info:
        await post(jp_fetch, kernel_id, route, body)
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)


def waiting_cell(sc_registry: Any, kernel_id: str, cell_id: str) -> dict[str, Any] | None:
    cell = sc_registry.get(kernel_id).notebook.get(cell_id)
    return None if cell is None else cell.input_request


async def test_a_streamed_run_shows_the_input_request_and_waits_for_the_answer(
    jp_fetch: Any, sc_start_kernel: Any, sc_registry: Any, sc_wait_until: Any
) -> None:
    kernel_id = await sc_start_kernel()
    chunks: list[bytes] = []
    body = {"code": ASK, "cell_id": "asking", "timeout": 60}
    run = asyncio.ensure_future(
        post(jp_fetch, kernel_id, "execute", body, headers={"Accept": NDJSON},
             streaming_callback=chunks.append)
    )  # fmt: skip
    await sc_wait_until(lambda: b"input_request" in b"".join(chunks), what="the input line")
    assert waiting_cell(sc_registry, kernel_id, "asking") == {"prompt": "name? ", "password": False}
    cell = json.loads(
        (await jp_fetch("api", "sidecar", "kernels", kernel_id, "cells", "asking")).body
    )
    assert cell["input_request"] == {"prompt": "name? ", "password": False}

    answered = json.loads((await post(jp_fetch, kernel_id, "input", {"value": "Ada"})).body)
    assert answered["cell_id"] == "asking" and answered["kernel_id"] == kernel_id
    await run
    lines = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
    asked = [line for line in lines if line.get("msg_type") == "input_request"]
    assert len(asked) == 1 and asked[0]["channel"] == "stdin"
    assert asked[0]["content"] == {"prompt": "name? ", "password": False}
    result = lines[-1]
    assert result["status"] == "ok"
    assert result["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hello Ada\n"}]
    assert waiting_cell(sc_registry, kernel_id, "asking") is None
    # answered: nothing waits any more
    assert (await post_error(jp_fetch, kernel_id, "input", {"value": "again"}))[0] == 409


async def test_a_json_run_answers_409_naming_the_prompt_and_the_answer_route_finishes_it(
    jp_fetch: Any, sc_start_kernel: Any, sc_registry: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    code = "import getpass\nsecret = getpass.getpass('token: ')\nprint(len(secret))"
    status, answer = await post_error(
        jp_fetch, kernel_id, "execute", {"code": code, "cell_id": "c"}
    )
    assert status == 409
    assert "'token: '" in answer["message"] and f"/kernels/{kernel_id}/input" in answer["message"]
    assert answer["input_request"] == {"prompt": "token: ", "password": True}
    assert answer["msg_id"] == sc_registry.get(kernel_id).notebook.get("c").msg_id

    await post(jp_fetch, kernel_id, "input", {"value": "hunter2"})
    cell = await sc_cell_finished(kernel_id, "c")
    assert cell["status"] == "ok" and cell["input_request"] is None
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "7\n"}]


async def test_answering_with_nothing_pending_or_a_bad_body_or_an_unknown_kernel(
    jp_fetch: Any, sc_start_kernel: Any
) -> None:
    kernel_id = await sc_start_kernel()
    status, answer = await post_error(jp_fetch, kernel_id, "input", {"value": "x"})
    assert status == 409 and "waits for no input" in answer["message"]
    status, answer = await post_error(jp_fetch, kernel_id, "input", {"value": 3})
    assert status == 400 and answer["message"].startswith("value:")
    status, answer = await post_error(jp_fetch, kernel_id, "input", {})
    assert status == 400
    status, answer = await post_error(jp_fetch, "no-such-kernel", "input", {"value": "x"})
    assert status == 404


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
async def test_a_page_gone_while_its_run_waits_for_input_is_answered_over_rest(
    protocol: str,
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
) -> None:
    """The kernel sends input_request to the page's session only: the tap keeps it on the
    cell, the page closes, and the answer goes on the sidecar's own stdin channel."""
    kernel_id = await sc_start_kernel()
    page = await sc_connect(kernel_id, protocol=protocol)
    await page.execute(ASK, cell_id="cell-1", allow_stdin=True)
    while True:
        msg = await page.receive()
        assert msg is not None
        if msg["header"]["msg_type"] == "input_request":
            break
    assert msg["channel"] == "stdin"
    await sc_wait_until(lambda: waiting_cell(sc_registry, kernel_id, "cell-1") is not None)
    page.close()

    await post(jp_fetch, kernel_id, "input", {"value": "Grace"})
    cell = await sc_cell_finished(kernel_id, "cell-1")
    assert cell["status"] == "ok" and cell["input_request"] is None
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "hello Grace\n"}]


async def test_the_page_answering_itself_clears_the_pending_input(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_wait_until: Any
) -> None:
    kernel_id = await sc_start_kernel()
    page = await sc_connect(kernel_id)
    msg_id = await page.execute(ASK, cell_id="cell-2", allow_stdin=True)
    await sc_wait_until(lambda: waiting_cell(sc_registry, kernel_id, "cell-2") is not None)
    # answered on the page's own stdin channel; the idle has not come yet when it is seen
    await page.send("input_reply", {"value": "Linus"}, channel="stdin")
    await sc_wait_until(
        lambda: waiting_cell(sc_registry, kernel_id, "cell-2") is None, what="the field cleared"
    )
    replies = await page.collect(msg_id)
    texts = [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"]
    assert "".join(texts) == "hello Linus\n"  # print's pieces may leave apart under load
