"""ServerExecutionInput with real kernels: a kernel client made by the kernel manager's
`client_factory` and driven as jupyter-server-documents' notebook rooms drive theirs
(`_async_execute_interactive(source, output_hook=..., allow_stdin=False)`) gets input
through the sidecar: the request is kept on the record, `answer_input` reaches the kernel."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jupyter_sidecar_ext.collab.stdin import ServerExecutionInput

ASK = "name = input('name? ')\nprint('hello', name)"


@pytest.fixture
def sc_input(jp_serverapp: Any, sc_registry: Any) -> Iterator[ServerExecutionInput]:
    adapter = ServerExecutionInput(sc_registry, jp_serverapp.kernel_manager)
    adapter.install()
    yield adapter
    adapter.uninstall()


async def room_client(jp_serverapp: Any, kernel_id: str) -> Any:
    """A kernel client as the room makes it (an own session, started channels, ready)."""
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    client = km.client_factory(parent=km)
    client.load_connection_info(km.get_connection_info())
    client.start_channels()
    await client._async_wait_for_ready(timeout=60)
    return client


def run_as_the_room(client: Any, code: str, outputs: list[dict[str, Any]]) -> Any:
    def output_hook(msg: dict[str, Any]) -> None:
        if msg["header"]["msg_type"] == "stream":
            outputs.append(msg["content"])

    return asyncio.ensure_future(
        client._async_execute_interactive(code, output_hook=output_hook, allow_stdin=False)
    )


def pending(sc_registry: Any, kernel_id: str) -> Callable[[], bool]:
    return lambda: sc_registry.get(kernel_id).pending_input() is not None


async def test_input_in_a_server_run_cell_is_kept_and_answered(
    jp_serverapp: Any,
    sc_input: ServerExecutionInput,
    sc_start_kernel: Any,
    sc_registry: Any,
    sc_wait_until: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    await sc_registry.ensure(kernel_id)
    client = await room_client(jp_serverapp, kernel_id)
    try:
        outputs: list[dict[str, Any]] = []
        run = run_as_the_room(client, ASK, outputs)
        await sc_wait_until(pending(sc_registry, kernel_id), what="the recorded input request")
        sidecar = sc_registry.get(kernel_id)
        cell = sidecar.pending_input()
        assert cell.input_request == {"prompt": "name? ", "password": False}
        assert not run.done()  # the room's run waits for the answer

        assert sidecar.answer_input("Ada") is cell
        reply = await asyncio.wait_for(run, 60)
        assert reply["content"]["status"] == "ok"
        assert outputs == [{"name": "stdout", "text": "hello Ada\n"}]
        assert cell.input_request is None and sidecar.pending_input() is None
    finally:
        client.stop_channels()


async def test_without_the_adapter_input_fails_at_once(
    jp_serverapp: Any, sc_start_kernel: Any, sc_registry: Any
) -> None:
    """What the adapter changes: the room allows no stdin, so ipykernel refuses input()."""
    kernel_id = await sc_start_kernel()
    await sc_registry.ensure(kernel_id)
    client = await room_client(jp_serverapp, kernel_id)
    try:
        reply = await asyncio.wait_for(run_as_the_room(client, ASK, []), 60)
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "StdinNotImplementedError"
    finally:
        client.stop_channels()


async def test_a_request_before_its_execution_is_recorded_waits_for_it(
    sc_input: ServerExecutionInput, sc_start_kernel: Any, sc_registry: Any
) -> None:
    """stdin and iopub are read by different clients: an input request can come first."""
    kernel_id = await sc_start_kernel()
    sidecar = await sc_registry.ensure(kernel_id)
    request = {
        "header": {"msg_id": "r1", "msg_type": "input_request"},
        "parent_header": {"msg_id": "early", "msg_type": "execute_request"},
        "metadata": {},
        "content": {"prompt": "pw: ", "password": True},
        "msg_type": "input_request",
    }
    sc_input.on_input_request(kernel_id, request)
    assert sidecar.pending_input() is None
    sidecar.notebook.handle_iopub("status", "early", {"execution_state": "busy"})
    cells = sidecar.notebook.handle_iopub("execute_input", "early", {"code": "getpass()"})
    sc_input._on_cells(sidecar, cells)
    cell = sidecar.pending_input()
    assert cell is not None and cell.input_request == {"prompt": "pw: ", "password": True}


async def test_uninstall_gives_the_factory_back(jp_serverapp: Any, sc_registry: Any) -> None:
    manager = jp_serverapp.kernel_manager
    factory = manager.kernel_manager_factory
    adapter = ServerExecutionInput(sc_registry, manager)
    adapter.install()
    assert manager.kernel_manager_factory != factory
    adapter.uninstall()
    assert manager.kernel_manager_factory == factory
