"""Gateway mode (`--gateway-url`) against a real Kernel Gateway: kernel websockets are
relayed with TCP_NODELAY on both hops, and remote kernels are recorded (more in
test_gateway_recorder.py) without errors."""

from __future__ import annotations

import json
import logging
import socket
from typing import Any

import pytest
from traitlets.config import Config

from jupyter_sidecar_ext.gateway import SidecarGatewayConnection
from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient
from jupyter_sidecar_ext.registry import SidecarRegistry

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
    """Execute code over the websocket; the texts it printed."""
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
    assert await run(client, "print('hi')") == ["hi\n"]
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
    assert await run(client, "print('hi')") == ["hi\n"]
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
        assert await run(client, "print('hi')") == ["hi\n"]

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
