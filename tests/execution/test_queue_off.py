"""`SidecarApp.execution_queue = False`: requests go straight to the kernel, as in a plain
server; the queue endpoints say so; HTTP execution still works."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

pytestmark = pytest.mark.parametrize(
    "jp_server_config", [{"execution_queue": False}], indirect=True
)


async def test_requests_go_straight_to_the_kernel(
    jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_registry: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    ids = [await client.execute(code) for code in ("1", "1 / 0", "3")]
    replies: dict[str, str] = {}
    while len(replies) < len(ids):  # shell replies, in whatever order they come with iopub
        msg = await client.receive()
        assert msg is not None
        if msg["channel"] == "shell":
            replies[msg["parent_header"]["msg_id"]] = msg["content"]["status"]
    statuses = [replies[msg_id] for msg_id in ids]
    assert statuses == ["ok", "error", "aborted"]  # the kernel's own stop_on_error
    queue = sc_registry.get(kernel_id).executor.queue
    assert queue.running is None and len(queue) == 0

    listed = json.loads((await jp_fetch("api", "sidecar", "kernels", kernel_id, "queue")).body)
    assert listed == {"kernel_id": kernel_id, "enabled": False, "running": None, "queued": []}
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", "kernels", kernel_id, "queue", ids[0], method="DELETE")
    assert info.value.code == 409
    info_body = json.loads((await jp_fetch("api", "sidecar")).body)
    assert "execute" in info_body["features"] and "queue" not in info_body["features"]


async def test_http_execution_without_the_queue(sc_start_kernel: Any, sc_execute: Any) -> None:
    kernel_id = await sc_start_kernel()
    result = await sc_execute(kernel_id, code="print('no queue')")
    assert result["status"] == "ok"
    assert result["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "no queue\n"}]
