"""Faults around a running cell: what was recorded before the fault is kept, the cell is
marked, and recording goes on for the next run."""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

LONG_CELL = (
    "import time\nfor i in range(1000):\n    print(f'line {i}', flush=True)\n    time.sleep(0.02)\n"
)


@pytest.fixture
def long_cell_printing(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_wait_until: Any
) -> Callable[[str], Awaitable[str]]:
    """Start a kernel running a long printing cell; returns once 5 lines were recorded."""

    async def start(cell_id: str) -> str:
        kernel_id: str = await sc_start_kernel()
        client = await sc_connect(kernel_id, "v1")
        await client.execute(LONG_CELL, cell_id=cell_id)

        def printed() -> bool:
            cell = sc_registry.find(kernel_id).notebook.get(cell_id)
            return (
                cell is not None and bool(cell.outputs) and cell.outputs[0]["text"].count("\n") >= 5
            )

        await sc_wait_until(printed, what=f"5 lines in {cell_id}")
        return kernel_id

    return start


async def test_restart_mid_cell_keeps_what_was_printed(
    jp_fetch: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_cell_finished: Any,
    long_cell_printing: Any,
) -> None:
    kernel_id = await long_cell_printing("long")
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="")

    cell = sc_registry.find(kernel_id).notebook.get("long")
    # ipykernel interrupts the running cell on shutdown: it ends with KeyboardInterrupt
    assert cell.status in {"error", "aborted"} and cell.stale and cell.ended is not None
    text = cell.outputs[0]["text"]
    assert text.startswith("line 0\nline 1\nline 2\nline 3\nline 4\n")

    client2 = await sc_connect(kernel_id, "v1")
    await client2.collect(await client2.execute("print('new run')", cell_id="next"))
    await sc_cell_finished(kernel_id, "next", frozenset({"ok"}))
    assert sc_registry.find(kernel_id).notebook.get("long").outputs[0]["text"] == text


async def test_kernel_killed_mid_output_is_restarted_and_marked(
    jp_serverapp: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
    long_cell_printing: Any,
) -> None:
    kernel_id = await long_cell_printing("doomed")
    notebook = sc_registry.find(kernel_id).notebook
    run = notebook.run
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    os.kill(km.provisioner.process.pid, signal.SIGKILL)

    await sc_wait_until(lambda: notebook.run == run + 1, timeout=90, what="the auto-restart")
    cell = notebook.get("doomed")
    assert cell.status == "aborted" and cell.stale
    assert cell.outputs[0]["text"].startswith("line 0\nline 1\nline 2\nline 3\nline 4\n")

    client2 = await sc_connect(kernel_id, "v1")
    msg_id = await client2.execute("print('alive again')", cell_id="after-kill")
    await client2.collect(msg_id)
    await sc_cell_finished(kernel_id, "after-kill", frozenset({"ok"}))
    assert notebook.get("after-kill").outputs == [
        {"output_type": "stream", "name": "stdout", "text": "alive again\n"}
    ]


async def test_a_million_lines_stay_within_the_budget(
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    msg_id = await client.execute("for i in range(1_000_000): print(i)", cell_id="flood")
    await client.collect(msg_id, timeout=300)
    await sc_cell_finished(kernel_id, "flood", frozenset({"ok"}), timeout=120)
    cell = json.loads(
        (await jp_fetch("api", "sidecar", "kernels", kernel_id, "cells", "flood")).body
    )
    budget = sc_registry.find(kernel_id).notebook.max_output_bytes
    (output,) = cell["outputs"]
    text = output["text"]
    assert cell["truncated"] is True
    assert len(text) <= budget
    assert text.startswith("0\n1\n2\n")
    assert text.endswith("999998\n999999\n")
    assert "of output dropped]" in text
