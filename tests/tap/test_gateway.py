"""Gateway mode (`--gateway-url`) against a real Kernel Gateway: kernel websockets are
relayed with TCP_NODELAY on both hops, remote kernels are recorded (more in
channels/gateway/test_recorder.py) without errors, and the relay holds execute_requests in the
kernel's execution queue (the core suite runs in both modes in test_core_modes.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import tornado.websocket
from jupyter_server.gateway import connections as server_relay
from traitlets.config import Config

from jupyter_sidecar_ext.channels.gateway import GatewayChannels
from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient
from jupyter_sidecar_ext.registry import SidecarRegistry
from jupyter_sidecar_ext.tap.gateway import GATEWAY_LOST, SidecarGatewayConnection

NOT_RECORDED = "recording outputs in gateway mode is not available yet"
# What a ZMQ socket to a gateway kernel's (non-existent) local ports logs.
LOCAL_ZMQ = "tcp://127.0.0.1:0"
# jupyter_server logs its "open this URL" banner at CRITICAL.
BANNER = "To access the server"


@pytest.fixture
def jp_server_config(sc_gateway_server_config: Config, request: pytest.FixtureRequest) -> Config:
    """Gateway mode, plus whatever config a test passes as its param."""
    sc_gateway_server_config.merge(Config(getattr(request, "param", {})))
    return sc_gateway_server_config


@pytest.fixture
def gateway_connections(monkeypatch: pytest.MonkeyPatch) -> list[SidecarGatewayConnection]:
    """The gateway connections opened during the test (the server keeps no list of them)."""
    opened: list[SidecarGatewayConnection] = []
    connect = SidecarGatewayConnection.connect

    async def recording_connect(self: SidecarGatewayConnection) -> None:
        opened.append(self)
        await connect(self)

    monkeypatch.setattr(SidecarGatewayConnection, "connect", recording_connect)
    return opened


async def run(client: KernelWebsocketClient, code: str) -> list[str]:
    """Execute code over the websocket; the texts it printed (print's pieces may leave as
    separate stream messages under load: join them)."""
    replies = await client.collect(await client.execute(code))
    return [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"]


def nodelay(sock: socket.socket) -> bool:
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def hop_sockets(connection: SidecarGatewayConnection) -> tuple[socket.socket, socket.socket]:
    """(browser-facing socket, server-to-gateway socket) of an open relay."""
    browser = connection.websocket_handler.ws_connection
    assert connection.ws is not None, "the gateway hop is not open"
    gateway = connection.ws.protocol
    assert browser is not None and browser.stream is not None
    assert gateway is not None and gateway.stream is not None
    return browser.stream.socket, gateway.stream.socket


def test_gateway_mode_relays_kernels_through_the_sidecar_gateway_connection(
    jp_serverapp: Any,
) -> None:
    assert jp_serverapp.gateway_config.gateway_enabled
    settings = jp_serverapp.web_app.settings
    assert settings["kernel_websocket_connection_class"] is SidecarGatewayConnection


async def test_a_gateway_kernel_runs_code_with_nodelay_on_both_hops(
    sc_start_kernel: Any, sc_connect: Any, gateway_connections: list[SidecarGatewayConnection]
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")  # the gateway relay forces legacy
    assert "".join(await run(client, "print('hi')")) == "hi\n"
    (connection,) = gateway_connections
    browser, gateway = hop_sockets(connection)
    assert nodelay(browser)
    assert nodelay(gateway)


@pytest.mark.parametrize(
    "jp_server_config", [{"SidecarGatewayConnection": {"tcp_nodelay": False}}], indirect=True
)
async def test_nodelay_can_be_turned_off(
    sc_start_kernel: Any, sc_connect: Any, gateway_connections: list[SidecarGatewayConnection]
) -> None:
    """Off, both hops keep tornado's default (Nagle on): the setting is what turns it on."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    assert "".join(await run(client, "print('hi')")) == "hi\n"
    (connection,) = gateway_connections
    browser, gateway = hop_sockets(connection)
    assert not nodelay(browser)
    assert not nodelay(gateway)


async def test_gateway_kernels_are_recorded_without_errors(
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_wait_until: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Remote kernels have no local ZMQ channels: each is recorded through its own websocket
    to the gateway (gateway_recorder.py), the REST API serves them like local ones, nothing
    tries a local socket, and nothing logs an error."""
    caplog.set_level(logging.DEBUG)
    kernel_ids = [await sc_start_kernel(), await sc_start_kernel()]
    for kernel_id in kernel_ids:
        client = await sc_connect(kernel_id, "legacy")
        assert "".join(await run(client, "print('hi')")) == "hi\n"

    def recorded(kernel_id: str) -> bool:
        sidecar = sc_registry.get(kernel_id)
        cells = [] if sidecar is None else sidecar.notebook.cells()
        return any(cell.status == "ok" and cell.outputs for cell in cells)

    for kernel_id in kernel_ids:
        await sc_wait_until(lambda k=kernel_id: recorded(k), timeout=30, what="the recording")
    response = await jp_fetch("api", "sidecar", "kernels")
    listed = {kernel["kernel_id"] for kernel in json.loads(response.body)}
    assert listed.issuperset(kernel_ids)
    response = await jp_fetch("api", "sidecar", "kernels", kernel_ids[0], "notebook")
    assert json.loads(response.body)["cells"][0]["outputs"][0]["text"] == "hi\n"

    assert not [r for r in caplog.records if NOT_RECORDED in r.getMessage()]
    assert not [r for r in caplog.records if LOCAL_ZMQ in r.getMessage()]
    records = caplog.get_records("setup") + caplog.records
    failures = [
        r
        for r in records
        if (r.exc_info or r.levelno >= logging.ERROR) and BANNER not in r.getMessage()
    ]
    assert not failures, [r.getMessage() for r in failures]


# -- the execution queue through the relay --------------------------------------------------------


@pytest.fixture
def held_gateway_hop(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Relays open their gateway hop only once the returned event is set (the server's own
    connect, with the hop still opening when the client's first messages arrive)."""
    gate = asyncio.Event()
    connect = tornado.websocket.websocket_connect

    async def held(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        return await connect(*args, **kwargs)

    def held_connect(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        return asyncio.ensure_future(held(*args, **kwargs))

    module = SimpleNamespace(**vars(tornado.websocket))
    module.websocket_connect = held_connect
    monkeypatch.setattr(server_relay, "tornado_websocket", module)
    return gate


@pytest.fixture
def failing_gateway_hop(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Relays' gateway hops are refused by the gateway once the returned event is set (they
    are still opening until then)."""
    gate = asyncio.Event()

    async def refused(*args: Any, **kwargs: Any) -> Any:
        await gate.wait()
        raise ConnectionRefusedError("refused by the test")

    def failing_connect(*args: Any, **kwargs: Any) -> asyncio.Future[Any]:
        return asyncio.ensure_future(refused(*args, **kwargs))

    module = SimpleNamespace(**vars(tornado.websocket))
    module.websocket_connect = failing_connect
    monkeypatch.setattr(server_relay, "tornado_websocket", module)
    return gate


async def test_requests_whose_gateway_hop_failed_run_over_the_recorder(
    failing_gateway_hop: asyncio.Event,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_wait_until: Any,
    gateway_connections: list[SidecarGatewayConnection],
) -> None:
    """Requests sent while the hop was opening: the server would drop them once it failed,
    and the queue would wait for their replies forever; instead the kernel runs them (their
    outputs are recorded) and the queue moves on. The client is told at once (its websocket
    closes with 1013, JupyterLab reconnects)."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    await client.execute("print('still runs')", cell_id="orphan")
    await client.execute("print('and the next')", cell_id="next")
    sidecar = sc_registry.get(kernel_id)
    assert sidecar is not None
    await sc_wait_until(lambda: sidecar.executor.queue.running is not None, what="a turn")
    failing_gateway_hop.set()
    while await client.ws.read_message() is not None:
        pass
    assert client.ws.close_code == GATEWAY_LOST

    def printed(cell_id: str) -> list[Any]:
        cell = sidecar.notebook.get(cell_id)
        return [] if cell is None else [(cell.status, o.get("text")) for o in cell.outputs]

    await sc_wait_until(lambda: printed("next") == [("ok", "and the next\n")], what="both")
    assert printed("orphan") == [("ok", "still runs\n")]
    assert sidecar.executor.queue.running is None


async def test_a_request_released_before_the_gateway_hop_opens_is_relayed_once(
    held_gateway_hop: asyncio.Event,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    sc_wait_until: Any,
    gateway_connections: list[SidecarGatewayConnection],
) -> None:
    """The queue sends the request at once (nothing runs); the server hands it back to the
    relay when the hop opens, which relays it then, without queueing it a second time."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    msg_id = await client.execute("print('once')", cell_id="early")
    queue = sc_registry.get(kernel_id).executor.queue
    await sc_wait_until(
        lambda: queue.running is not None and queue.running.msg_id == msg_id, what="its turn"
    )
    (connection,) = gateway_connections
    assert connection.ws is None and msg_id in connection._released
    held_gateway_hop.set()
    replies = await client.collect(msg_id)
    assert [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"] == [
        "once\n"
    ]
    assert [m["content"]["execution_count"] for m in replies if m["channel"] == "shell"] == [1]
    cell = await sc_cell_finished(kernel_id, "early")
    assert cell["execution_count"] == 1
    await sc_wait_until(lambda: queue.running is None, what="the queue to empty")
    assert not connection._released


async def test_queued_requests_of_a_client_that_left_run_over_the_recorder(
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    tmp_path: Path,
) -> None:
    """The relay's gateway hop closes with its client: what it left queued is sent on the
    recorder's websocket (the sidecar's own shell channel), in order, with the queue's
    stop-on-error rule."""
    kernel_id = await sc_start_kernel()
    watcher = await sc_connect(kernel_id, "legacy")
    leaver = await sc_connect(kernel_id, "legacy")
    release = tmp_path / "release"
    code = (
        "import os, time\nprint('started', flush=True)\n"
        f"while not os.path.exists({str(release)!r}):\n    time.sleep(0.01)\n"
    )
    first = await leaver.execute(code, cell_id="first")
    await leaver.execute("'second'", cell_id="second")
    await leaver.execute("1 / 0", cell_id="third")
    await leaver.execute("'fourth'", cell_id="fourth")
    while True:  # it started: the other three wait in the queue
        msg = await leaver.receive()
        assert msg is not None
        if msg["header"]["msg_type"] == "stream" and msg["parent_header"]["msg_id"] == first:
            break
    assert len(sc_registry.get(kernel_id).executor.queue) == 3
    leaver.close()
    release.touch()
    assert (await sc_cell_finished(kernel_id, "first"))["execution_count"] == 1
    second = await sc_cell_finished(kernel_id, "second")
    assert (second["status"], second["execution_count"]) == ("ok", 2)
    third = await sc_cell_finished(kernel_id, "third")
    assert (third["status"], third["execution_count"]) == ("error", 3)
    assert (await sc_cell_finished(kernel_id, "fourth"))["status"] == "aborted"
    replies = await watcher.collect(await watcher.execute("'after'"))
    assert [m["content"]["execution_count"] for m in replies if m["channel"] == "shell"] == [4]


async def test_the_kernels_list_shows_what_the_gateway_reports(
    sc_start_kernel: Any,
    sc_connect: Any,
    jp_fetch: Any,
    sc_registry: SidecarRegistry,
    sc_wait_until: Any,
) -> None:
    """The server refreshes a gateway kernel's model only when it lists the gateway's
    kernels: the sidecar's list asks the gateway too, so states and connections agree."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    await run(client, "print(1)")
    # Each answer is a list of the gateway's at its moment: the kernel must be quiet for the
    # two to agree. The recorder connects and nudges, and the variables snapshot after the
    # cell asks over control, all beside the client (each a connection or a busy-idle pair).
    channels = sc_registry.get(kernel_id).channels
    assert isinstance(channels, GatewayChannels)
    await sc_wait_until(lambda: channels.live, what="the recorder to receive")

    async def quiet() -> bool:
        variables = json.loads(
            (await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables")).body
        )
        listed = json.loads((await jp_fetch("api", "kernels")).body)  # asks the gateway
        (model,) = [k for k in listed if k["id"] == kernel_id]
        return variables["execution_count"] == 1 and model["execution_state"] == "idle"

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while not await quiet():
        assert loop.time() < deadline, "the kernel never went quiet"
        await asyncio.sleep(0.05)  # polling the gateway, as sc_wait_until polls state
    ours = json.loads((await jp_fetch("api", "sidecar", "kernels")).body)
    stock = json.loads((await jp_fetch("api", "kernels")).body)
    (mine,) = [k for k in ours if k["kernel_id"] == kernel_id]
    (theirs,) = [k for k in stock if k["id"] == kernel_id]
    assert theirs["connections"] >= 1  # the client's relay (and the recorder) are counted
    assert (mine["execution_state"], mine["connections"]) == (
        theirs["execution_state"],
        theirs["connections"],
    )
