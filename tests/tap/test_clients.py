"""Which page shows an execution: the tap counts each client session's open websockets, so
the sidecar tells when the page that sent an execution is gone (real kernels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_sidecar_ext.pytest_plugin import blocking_cell


async def test_an_execution_is_orphaned_while_its_page_has_no_websocket(
    tmp_path: Path,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    flag = tmp_path / "release"
    page = await sc_connect(kernel_id, session_id="page-a")
    await sc_connect(kernel_id, session_id="page-b")
    msg_id = await page.execute(blocking_cell(flag, announce=True), cell_id="cell")
    await page.until_output(msg_id)
    sidecar = sc_registry.get(kernel_id)
    assert not sidecar.orphaned(msg_id)

    page.close()  # another page stays: only the page that sent it counts
    await sc_wait_until(lambda: sidecar.orphaned(msg_id), what="the page to be gone")

    await sc_connect(kernel_id, session_id="page-a")  # the page reconnects
    await sc_wait_until(lambda: not sidecar.orphaned(msg_id), what="the page to be back")
    flag.touch()
    await sc_cell_finished(kernel_id, "cell")


async def test_executions_of_unknown_origin_are_never_orphaned(
    sc_start_kernel: Any, sc_execute: Any, sc_registry: Any
) -> None:
    """An HTTP execution has no page: no page writes its outputs, and no writer takes over
    from one."""
    kernel_id = await sc_start_kernel()
    result = await sc_execute(kernel_id, code="1 + 1", cell_id="http-cell")
    assert result["status"] == "ok"
    assert not sc_registry.get(kernel_id).orphaned(result["msg_id"])
