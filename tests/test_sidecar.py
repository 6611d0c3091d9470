"""KernelSidecar end to end: real kernels, real websockets, both subprotocols."""

from __future__ import annotations

import json
from typing import Any

import pytest

from jupyter_sidecar_ext.pytest_plugin import HELLO_CODE, assert_valid_cells, hello_outputs

PROTOCOLS = ["v1", "legacy"]


async def fetch_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch(*parts, **kwargs)
    return json.loads(response.body)


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_records_cell_under_cell_id(
    protocol: str, jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, protocol)
    msg_id = await client.execute(HELLO_CODE, cell_id="cell-a")
    await client.collect(msg_id)
    await sc_cell_finished(kernel_id, "cell-a")

    cell = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "cells", "cell-a")
    assert cell["id"] == "cell-a"
    assert cell["msg_id"] == msg_id
    assert cell["source"] == HELLO_CODE
    assert cell["status"] == "ok"
    assert cell["execution_count"] == 1
    assert cell["outputs"] == hello_outputs()
    assert cell["started"] and cell["ended"]
    assert_valid_cells([cell])


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_closing_every_websocket_mid_run_loses_nothing(
    protocol: str, sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, protocol)
    code = (
        "import time\n"
        "print('line 0', flush=True)\n"
        "time.sleep(0.5)\n"
        "for i in range(1, 40):\n"
        "    print(f'line {i}', flush=True)\n"
        "    time.sleep(0.01)\n"
    )
    msg_id = await client.execute(code, cell_id="long")
    while True:  # wait for the first line, then walk away
        msg = await client.receive()
        assert msg is not None
        if msg["header"]["msg_type"] == "stream" and msg["parent_header"]["msg_id"] == msg_id:
            break
    client.close()

    cell = await sc_cell_finished(kernel_id, "long")
    assert cell["outputs"] == [
        {
            "output_type": "stream",
            "name": "stdout",
            "text": "".join(f"line {i}\n" for i in range(40)),
        }
    ]
    assert cell["status"] == "ok"


async def test_two_clients_record_each_cell_once(
    sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    first = await sc_connect(kernel_id, "v1")
    second = await sc_connect(kernel_id, "legacy")
    one = await first.execute("print('from first')", cell_id="c1")
    await first.collect(one)
    two = await second.execute("print('from second')", cell_id="c2")
    await second.collect(two)

    assert (await sc_cell_finished(kernel_id, "c1"))["outputs"][0]["text"] == "from first\n"
    assert (await sc_cell_finished(kernel_id, "c2"))["outputs"][0]["text"] == "from second\n"


async def test_request_without_cell_id_is_recorded_under_msg_id(
    sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    msg_id = await client.execute("print('anonymous')")
    await client.collect(msg_id)
    cell = await sc_cell_finished(kernel_id, msg_id)
    assert cell["id"] == msg_id
    assert cell["outputs"][0]["text"] == "anonymous\n"


async def test_records_a_client_that_bypasses_the_server(
    jp_serverapp: Any, sc_start_kernel: Any, sc_registry: Any, sc_cell_finished: Any
) -> None:
    """A ZMQ client (e.g. a console on the connection file) is recorded from iopub alone."""
    kernel_id = await sc_start_kernel()
    await sc_registry.ensure(kernel_id)
    kernel_client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    kernel_client.start_channels()
    try:
        reply = await kernel_client.execute_interactive("print('direct')", timeout=60)
    finally:
        kernel_client.stop_channels()
    msg_id = reply["parent_header"]["msg_id"]
    cell = await sc_cell_finished(kernel_id, msg_id)
    assert cell["source"] == "print('direct')"
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "direct\n"}]


async def test_display_id_updates_reach_every_cell(
    sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    first = await client.execute(
        "from IPython.display import display\nh = display('v1', display_id='progress')",
        cell_id="show",
    )
    await client.collect(first)
    second = await client.execute(
        "display('v1-again', display_id='progress')\nh.update('v2')", cell_id="update"
    )
    await client.collect(second)

    shown = await sc_cell_finished(kernel_id, "show")
    updated = await sc_cell_finished(kernel_id, "update")
    assert shown["outputs"] == [
        {"output_type": "display_data", "data": {"text/plain": "'v2'"}, "metadata": {}}
    ]
    assert updated["outputs"] == shown["outputs"]
    assert all("transient" not in out for out in shown["outputs"] + updated["outputs"])
    assert_valid_cells([shown, updated])


async def test_restart_marks_old_cells_and_keeps_new_ones_apart(
    jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any, sc_registry: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    before = await client.execute("print('before')", cell_id="cell")
    await client.collect(before)
    await sc_cell_finished(kernel_id, "cell")

    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="")
    client2 = await sc_connect(kernel_id, "v1")
    after = await client2.execute("print('after')", cell_id="cell")
    await client2.collect(after)
    cell = await sc_cell_finished(kernel_id, "cell")
    assert cell["msg_id"] == after
    assert cell["outputs"][0]["text"] == "after\n"
    assert cell["execution_count"] == 1
    assert cell["run"] == 1
    assert not cell["stale"]


async def test_shutdown_keeps_the_record_readable(
    jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    msg_id = await client.execute("print('kept')", cell_id="kept")
    await client.collect(msg_id)
    await sc_cell_finished(kernel_id, "kept")
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")

    notebook = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "notebook")
    assert notebook["alive"] is False
    assert [cell["id"] for cell in notebook["cells"]] == ["kept"]
    kernels = await fetch_json(jp_fetch, "api", "sidecar", "kernels")
    (summary,) = [k for k in kernels if k["kernel_id"] == kernel_id]
    assert summary["alive"] is False
    assert summary["execution_state"] == "gone"


def _iopub(session: Any, msg_type: str, content: dict[str, Any], parent: dict[str, Any]) -> Any:
    from jupyter_sidecar_ext.protocol.message import KernelMessage

    msg = session.msg(msg_type, content=content, parent=parent)
    return KernelMessage.from_zmq(session.serialize(msg, ident=[b"kernel.1." + msg_type.encode()]))


async def test_a_lost_idle_is_detected_and_marked_as_a_gap() -> None:
    """Scripted: request A goes busy, prints, and B goes busy before A's idle arrived."""
    import logging

    from jupyter_client.session import Session

    from jupyter_sidecar_ext.channels.zmq import ZmqChannels
    from jupyter_sidecar_ext.record.shadow import ShadowNotebook
    from jupyter_sidecar_ext.sidecar import KernelSidecar

    session = Session(key=b"")
    changes: list[str] = []
    sidecar = KernelSidecar(
        "k",
        None,
        ShadowNotebook(),
        lambda _, cells: changes.extend(c.id for c in cells),
        logging.getLogger("test"),
        ZmqChannels,
    )
    a = session.msg("execute_request", content={"code": "print(1)"})
    b = session.msg("execute_request", content={"code": "print(2)"})
    sidecar.on_execute_request(a["header"]["msg_id"], "print(1)", "A")
    sidecar.on_execute_request(b["header"]["msg_id"], "print(2)", "B")
    sidecar.on_iopub(_iopub(session, "status", {"execution_state": "busy"}, a))
    sidecar.on_iopub(_iopub(session, "stream", {"name": "stdout", "text": "1\n"}, a))
    # A's idle was dropped by the kernel's PUB socket; B starts.
    sidecar.on_iopub(_iopub(session, "status", {"execution_state": "busy"}, b))
    sidecar.on_iopub(_iopub(session, "stream", {"name": "stdout", "text": "2\n"}, b))
    sidecar.on_iopub(_iopub(session, "status", {"execution_state": "idle"}, b))

    cell_a, cell_b = sidecar.notebook.get("A"), sidecar.notebook.get("B")
    assert cell_a is not None and cell_b is not None
    assert cell_a.gap and cell_a.status == "ok" and cell_a.ended is not None
    assert cell_a.outputs == [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    assert not cell_b.gap and cell_b.status == "ok"
    sidecar.flush()
    assert set(changes) == {"A", "B"}


async def test_every_line_is_recorded_under_cpu_load(
    sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    """Two CPU-bound processes beside the server; 10 runs of a 20,000-line cell."""
    import asyncio
    import sys

    burners = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", "while True: pass")
        for _ in range(2)
    ]
    try:
        kernel_id = await sc_start_kernel()
        client = await sc_connect(kernel_id, "v1")
        expected = "".join(f"{i}\n" for i in range(20_000))
        for run in range(10):
            cell_id = f"run-{run}"
            msg_id = await client.execute("for i in range(20000): print(i)", cell_id=cell_id)
            await client.collect(msg_id, timeout=120)
            cell = await sc_cell_finished(kernel_id, cell_id)
            assert not cell["gap"]
            assert "".join(out["text"] for out in cell["outputs"]) == expected, run
    finally:
        for burner in burners:
            burner.kill()
            await burner.wait()


async def test_kernel_started_by_a_session_is_recorded_with_its_path(
    jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    kernel_id = await sc_start_kernel(path="work/analysis.ipynb")
    client = await sc_connect(kernel_id, "v1")
    await client.collect(await client.execute("print('in a session')", cell_id="s1"))
    await sc_cell_finished(kernel_id, "s1")
    kernels = await fetch_json(jp_fetch, "api", "sidecar", "kernels")
    assert [k["path"] for k in kernels if k["kernel_id"] == kernel_id] == ["work/analysis.ipynb"]
    notebook = await fetch_json(jp_fetch, "api", "sidecar", "kernels", kernel_id, "notebook")
    assert notebook["path"] == "work/analysis.ipynb"
    assert notebook["cells"][0]["outputs"][0]["text"] == "in a session\n"
