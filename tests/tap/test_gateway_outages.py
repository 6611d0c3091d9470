"""Gateway mode when a link to the gateway is down: a client's kernel websocket is accepted
without waiting for the kernel's recorder (its cells recorded from the relay meanwhile, or
marked `gap`), and when the gateway itself goes away, connected clients are told at once
(their websocket closes with 1013, which JupyterLab turns into "connecting") and new ones are
refused until it is back."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from jupyter_sidecar_ext.channels.gateway import GatewayChannels
from jupyter_sidecar_ext.protocol.frames import V1_SUBPROTOCOL
from jupyter_sidecar_ext.pytest_gateway import (
    HoldingProxy,
    KernelGateway,
    RestartableKernelGateway,
)
from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient
from jupyter_sidecar_ext.registry import SidecarRegistry
from jupyter_sidecar_ext.tap.gateway import GATEWAY_LOST

Wait = Callable[..., Awaitable[None]]
# Liveness bound for accepting a websocket while the recorder is held (start_timeout is set
# far above it): not a performance target.
ACCEPT_BOUND = 30.0
# How long a connected client may go without hearing that the gateway is gone: a liveness
# bound (without being told, it would wait forever), roomy for a loaded 2-core machine.
TOLD_BOUND = 30.0
SLOW_PRINTS = "import time\nfor i in range({n}):\n    print(i, flush=True)\n    time.sleep({pause})"


@pytest.fixture(scope="module")
def recorder_link_held(sc_kernel_gateway: KernelGateway) -> Iterator[HoldingProxy]:
    """The server reaches the gateway through a proxy that holds the recorders' websockets
    (they ask for the v1 subprotocol; relays and REST calls do not) until released. Module
    scope: it must outlive the test's server cleanup, which shuts kernels down through it."""
    proxy = HoldingProxy(sc_kernel_gateway.url, V1_SUBPROTOCOL.encode())
    proxy.start()
    yield proxy
    proxy.release()
    proxy.stop()


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """Gateway mode through `recorder_link_held` (param "held"), or against a gateway of the
    test's own that it may kill and restart (param "own")."""
    if request.param == "own":
        config: Config = request.getfixturevalue("sc_restartable_gateway_config")
        return config
    config = request.getfixturevalue("sc_gateway_server_config")
    config.GatewayClient.url = request.getfixturevalue("recorder_link_held").url
    config.SidecarRegistry.start_timeout = 600.0  # a wait for the recorder would show
    return config


def channels_of(registry: SidecarRegistry, kernel_id: str) -> GatewayChannels:
    sidecar = registry.find(kernel_id)
    assert sidecar is not None and isinstance(sidecar.channels, GatewayChannels)
    return sidecar.channels


def printed(registry: SidecarRegistry, kernel_id: str, cell_id: str) -> str:
    sidecar = registry.find(kernel_id)
    cell = None if sidecar is None else sidecar.notebook.get(cell_id)
    outputs = [] if cell is None else cell.outputs
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


@pytest.mark.parametrize("jp_server_config", ["held"], indirect=True)
async def test_a_client_is_accepted_and_recorded_while_the_recorders_link_is_held(
    recorder_link_held: HoldingProxy,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    sc_wait_until: Wait,
) -> None:
    kernel_id = await sc_start_kernel()
    channels = channels_of(sc_registry, kernel_id)
    await sc_wait_until(lambda: recorder_link_held.held >= 1, what="the recorder to be held")
    client = await asyncio.wait_for(sc_connect(kernel_id, "legacy"), ACCEPT_BOUND)
    assert not channels.recorder.connected

    # recorded from the relay, each output once
    msg_id = await client.execute("print('while held')", cell_id="held")
    await client.collect(msg_id)
    cell = await sc_cell_finished(kernel_id, "held")
    assert cell["status"] == "ok" and cell["execution_count"] == 1 and not cell["gap"]
    assert printed(sc_registry, kernel_id, "held") == "while held\n"

    # the last relay leaves while a cell runs: it may lose outputs, so it is marked; the
    # recorder, once its link is through, finishes it
    await client.execute(SLOW_PRINTS.format(n=3, pause=0.3), cell_id="left")
    await sc_wait_until(lambda: "0\n" in printed(sc_registry, kernel_id, "left"), what="output")
    client.close()
    await sc_wait_until(
        lambda: sc_registry.find(kernel_id).notebook.get("left").gap,  # type: ignore[union-attr]
        what="the gap mark",
    )
    assert not channels.recorder.connected
    recorder_link_held.release()
    cell = await sc_cell_finished(kernel_id, "left")
    assert cell["gap"] and cell["status"] in ("ok", "aborted")

    # the recorder records from now on; a new client's cell is recorded once
    await sc_wait_until(lambda: channels.live, what="the recorder to receive")
    again = await sc_connect(kernel_id, "legacy")
    msg_id = await again.execute("print('after')", cell_id="after")
    await again.collect(msg_id)
    after = await sc_cell_finished(kernel_id, "after")
    assert not after["gap"] and printed(sc_registry, kernel_id, "after") == "after\n"


async def closed(client: KernelWebsocketClient) -> int | None:
    """Read until the server closes the websocket; its close code."""
    while await client.ws.read_message() is not None:
        pass
    code: int | None = client.ws.close_code
    return code


@pytest.mark.parametrize("jp_server_config", ["own"], indirect=True)
async def test_clients_are_told_at_once_when_the_gateway_goes_down_and_work_when_it_is_back(
    sc_restartable_gateway: RestartableKernelGateway,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    jp_fetch: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    await client.collect(await client.execute("print(1)", cell_id="before"))

    sc_restartable_gateway.kill()
    assert await asyncio.wait_for(closed(client), TOLD_BOUND) == GATEWAY_LOST
    # reconnecting while it is away is refused before the websocket opens (JupyterLab then
    # asks for the kernel's model and retries with backoff, instead of spinning)
    with pytest.raises(HTTPClientError) as refused:
        await sc_connect(kernel_id, "legacy")
    assert refused.value.code == 503

    sc_restartable_gateway.start()  # Kernel Gateway's kernels died with it: a new one
    new_id = await sc_start_kernel()
    fresh = await sc_connect(new_id, "legacy")
    await fresh.collect(await fresh.execute("print('back')", cell_id="back"))
    cell = await sc_cell_finished(new_id, "back")
    assert cell["status"] == "ok" and printed(sc_registry, new_id, "back") == "back\n"
    response = await jp_fetch("api", "sidecar", "kernels")
    states = {k["kernel_id"]: k for k in json.loads(response.body)}
    assert states[new_id]["alive"]
