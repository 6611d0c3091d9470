"""Telling what ran while nobody watched: one `execution_finished` event per execution, and
the cells' `unwatched` flag over REST (real kernels, pages as kernel websockets)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jupyter_sidecar_ext.events import EXECUTION_FINISHED_SCHEMA
from jupyter_sidecar_ext.pytest_plugin import blocking_cell

# Ids, statuses, times and counts: never code, outputs, or an error's value or traceback.
EVENT_FIELDS = {
    "kernel_id",
    "cell_id",
    "msg_id",
    "status",
    "execution_count",
    "ename",
    "started",
    "ended",
    "duration",
    "unwatched",
}


async def test_cells_that_end_with_no_page_connected_are_unwatched(
    tmp_path: Path,
    jp_serverapp: Any,
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
    sc_registry: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    events: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        if data["kernel_id"] == kernel_id:
            events.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=EXECUTION_FINISHED_SCHEMA, listener=listener)
    try:
        page = await sc_connect(kernel_id, session_id="page")
        await page.collect(await page.execute("x = 1", cell_id="seen"))
        await sc_wait_until(lambda: len(events) == 1, what="the watched cell's event")

        flag = tmp_path / "release"
        slow = await page.execute(blocking_cell(flag, announce=True), cell_id="slow")
        await page.execute("1 / 0", cell_id="fails")
        await page.until_output(slow)
        page.close()  # the page is gone while both are still to finish
        sidecar = sc_registry.get(kernel_id)
        await sc_wait_until(lambda: sidecar.orphaned(slow), what="the page to be gone")
        flag.touch()
        await sc_cell_finished(kernel_id, "fails")
        await sc_wait_until(lambda: len(events) == 3, what="three events")
    finally:
        jp_serverapp.event_logger.remove_listener(
            schema_id=EXECUTION_FINISHED_SCHEMA, listener=listener
        )

    by_cell = {event["cell_id"]: event for event in events}
    assert [event["cell_id"] for event in events] == ["seen", "slow", "fails"]
    assert all(set(event) <= EVENT_FIELDS for event in events)
    seen, slow_event, fails = by_cell["seen"], by_cell["slow"], by_cell["fails"]
    assert (seen["status"], seen["unwatched"], seen["ename"]) == ("ok", False, None)
    assert (slow_event["status"], slow_event["unwatched"]) == ("ok", True)
    assert (fails["status"], fails["unwatched"], fails["ename"]) == (
        "error",
        True,
        "ZeroDivisionError",
    )
    assert fails["execution_count"] == slow_event["execution_count"] + 1
    assert slow_event["duration"] > 0 and slow_event["started"] < slow_event["ended"]

    response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "notebook")
    cells = {cell["id"]: cell for cell in json.loads(response.body)["cells"]}
    assert {cell_id: cells[cell_id]["unwatched"] for cell_id in cells} == {
        "seen": False,
        "slow": True,
        "fails": True,
    }
    response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "cells", "fails")
    assert json.loads(response.body)["unwatched"] is True


async def test_one_event_per_execution_whoever_sent_it(
    jp_serverapp: Any, sc_start_kernel: Any, sc_connect: Any, sc_execute: Any, sc_wait_until: Any
) -> None:
    """HTTP executions end with an event too, watched when some page of the kernel is open;
    a reply and an idle make one event, not two."""
    kernel_id = await sc_start_kernel()
    events: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        if data["kernel_id"] == kernel_id:
            events.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=EXECUTION_FINISHED_SCHEMA, listener=listener)
    try:
        alone = await sc_execute(kernel_id, code="1 + 1", cell_id="alone")
        page = await sc_connect(kernel_id)
        await page.collect(await page.execute("2 + 2", cell_id="from-page"))
        watched = await sc_execute(kernel_id, code="3 + 3", cell_id="watched")
        await sc_wait_until(lambda: len(events) >= 3, what="three events")
    finally:
        jp_serverapp.event_logger.remove_listener(
            schema_id=EXECUTION_FINISHED_SCHEMA, listener=listener
        )
    assert [(e["cell_id"], e["msg_id"], e["unwatched"]) for e in events] == [
        ("alone", alone["msg_id"], True),
        ("from-page", events[1]["msg_id"], False),
        ("watched", watched["msg_id"], False),
    ]
