"""LineOutbox: what a streamed execution still owes a slow client, bounded."""

from __future__ import annotations

import json
from typing import Any

from jupyter_sidecar_ext.execution.outbox import BATCH_BYTES, LineOutbox
from jupyter_sidecar_ext.schemas.api import ExecuteResult, StreamLine


def line(n: int, size: int = 1000) -> dict[str, Any]:
    return {
        "channel": "iopub",
        "msg_type": "stream",
        "msg_id": f"{n:05d}",  # lines of one size
        "header": {},
        "parent_header": {},
        "metadata": {},
        "content": {"name": "stdout", "text": "x" * size},
    }


async def take_all(outbox: LineOutbox) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    while (batch := await outbox.take()) is not None:
        lines += [json.loads(part) for part in batch.decode().splitlines()]
    return lines


async def test_a_client_that_keeps_up_gets_every_line_in_order() -> None:
    outbox = LineOutbox(10 * BATCH_BYTES)
    for n in range(5):
        outbox.put(line(n))
        assert [item["msg_id"] for item in await take_all_ready(outbox)] == [f"{n:05d}"]
    outbox.close()
    assert await outbox.take() is None


async def take_all_ready(outbox: LineOutbox) -> list[dict[str, Any]]:
    batch = await outbox.take()
    assert batch is not None
    return [json.loads(part) for part in batch.decode().splitlines()]


async def test_past_the_bound_the_oldest_waiting_lines_give_way_to_one_truncated_line() -> None:
    limit = 2 * BATCH_BYTES
    outbox = LineOutbox(limit)
    outbox.put(line(0))
    sent = await take_all_ready(outbox)  # the client took the first line, then stopped
    for n in range(1, 1001):
        outbox.put(line(n))
        assert outbox.waiting_bytes <= limit
    result = {"status": "ok", "execution_count": 1, "outputs": [], "msg_id": "r"}
    outbox.put(line(1001), keep=True)  # the reply
    outbox.put(result, keep=True)
    outbox.close()
    rest = await take_all(outbox)
    truncated = rest[0]
    assert truncated["type"] == "truncated"
    StreamLine.model_validate(truncated)
    kept = rest[1:-1]
    ids = [int(item["msg_id"]) for item in kept]
    assert ids == list(range(ids[0], 1002))  # the latest ones, in order, up to the reply
    assert truncated["dropped_messages"] == ids[0] - 1
    size = len(json.dumps(line(1)).encode()) + 1
    assert truncated["dropped_bytes"] == truncated["dropped_messages"] * size
    assert ExecuteResult.model_validate(rest[-1]).status == "ok"
    assert [item["msg_id"] for item in sent] == ["00000"]


async def test_a_line_larger_than_the_bound_is_dropped_unless_kept() -> None:
    outbox = LineOutbox(BATCH_BYTES)
    outbox.put(line(0, size=3 * BATCH_BYTES))
    outbox.put(line(1))
    outbox.put(line(2, size=3 * BATCH_BYTES), keep=True)
    outbox.close()
    lines = await take_all(outbox)
    assert lines[0]["type"] == "truncated" and lines[0]["dropped_messages"] == 1
    assert [item["msg_id"] for item in lines[1:]] == ["00001", "00002"]


async def test_an_abandoned_outbox_forgets_what_waits_and_what_comes() -> None:
    outbox = LineOutbox(BATCH_BYTES)
    outbox.put(line(0))
    outbox.abandon()
    outbox.put(line(1), keep=True)
    assert outbox.waiting_bytes == 0
    assert await outbox.take() is None
