"""Kernel activity kept from the sidecar's subscription behaves as the server's own watcher.

Each behaviour runs twice: with the sidecar tracking activity (the default) and with the
server's stock watcher (`track_activity` off), so the expectations are those of stock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.services.kernels.kernelmanager import MappingKernelManager
from traitlets.config import Config

from jupyter_sidecar_ext.pytest_plugin import blocking_cell, established_connections_to

INSTALLED = {"ServerApp": {"jpserver_extensions": {"jupyter_sidecar_ext": True}}}
# The culler runs from the first kernel's start, culling nothing until a test lowers the
# timeout (it is read at each round): a kernel still starting has no connection, so a short
# one from the start could cull it before the test's websocket is in (a loaded machine).
CULLING = {"cull_idle_timeout": 3600, "cull_interval": 1, "cull_busy": False}
CULL_AFTER = 2


def _config(track_activity: bool, **kernel_manager: Any) -> Config:
    return Config(
        {
            **INSTALLED,
            "ActivityTracker": {"enabled": track_activity},
            "MappingKernelManager": kernel_manager,
        }
    )


BOTH = pytest.mark.parametrize(
    "jp_server_config", [_config(True), _config(False)], ids=["sidecar", "stock"], indirect=True
)


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    return getattr(request, "param", _config(True))


async def _kernel_model(jp_fetch: Any, kernel_id: str) -> dict[str, Any]:
    return dict(json.loads((await jp_fetch("api", "kernels", kernel_id)).body))


@BOTH
async def test_state_and_last_activity_follow_a_cell(
    jp_fetch: Any,
    jp_serverapp: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_wait_until: Any,
    tmp_path: Path,
) -> None:
    kernel_id = await sc_start_kernel()
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    # a connecting client's kernel_info nudge ends "starting" (a stock watcher that
    # subscribed after the sidecar's own nudges were answered needs it)
    client = await sc_connect(kernel_id, "v1")
    await sc_wait_until(lambda: kernel.execution_state == "idle", what="idle after start")
    before = (await _kernel_model(jp_fetch, kernel_id))["last_activity"]

    flag = tmp_path / "release"
    msg_id = await client.execute(blocking_cell(flag), cell_id="busy")
    await sc_wait_until(lambda: kernel.execution_state == "busy", what="busy")
    assert (await _kernel_model(jp_fetch, kernel_id))["execution_state"] == "busy"
    flag.touch()
    await client.collect(msg_id)
    await sc_wait_until(lambda: kernel.execution_state == "idle", what="idle after the cell")

    model = await _kernel_model(jp_fetch, kernel_id)
    assert model["execution_state"] == "idle"
    assert model["last_activity"] > before
    assert jp_serverapp.kernel_manager.last_kernel_activity == kernel.last_activity


@BOTH
async def test_kernel_info_traffic_is_not_user_activity(
    jp_serverapp: Any, sc_start_kernel: Any, sc_connect: Any, sc_wait_until: Any
) -> None:
    """kernel_info (the server's and the sidecar's nudges, a page loading) must not keep
    an idle kernel from being culled."""
    kernel_id = await sc_start_kernel()
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    client = await sc_connect(kernel_id, "v1")
    start = kernel.last_activity
    await client.collect(await client.execute("1", cell_id="warm"))  # settle start-up
    # the watcher saw the cell's idle (the stock one has a socket of its own, which can lag
    # behind the client's: "idle" alone could still be the state before the cell)
    await sc_wait_until(
        lambda: kernel.last_activity != start and kernel.execution_state == "idle",
        what="the watcher to see the cell end",
    )
    before = kernel.last_activity

    await client.collect(await client.send("kernel_info_request", {}))

    assert kernel.last_activity == before
    assert kernel.execution_state == "idle"


@pytest.mark.parametrize(
    "jp_server_config",
    [_config(True, **CULLING), _config(False, **CULLING)],
    ids=["sidecar", "stock"],
    indirect=True,
)
async def test_culler_culls_idle_kernels_and_spares_busy_ones(
    jp_serverapp: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_wait_until: Any,
    tmp_path: Path,
) -> None:
    manager = jp_serverapp.kernel_manager
    busy_id = await sc_start_kernel()
    client = await sc_connect(busy_id, "v1")
    flag = tmp_path / "release"
    await client.execute(blocking_cell(flag), cell_id="busy")
    busy = manager.get_kernel(busy_id)
    await sc_wait_until(lambda: busy.execution_state == "busy", what="busy")
    client.close()
    manager.cull_idle_timeout = CULL_AFTER

    # Started after the busy kernel's last activity: once it is culled for being idle,
    # the busy kernel has been idle-timed-out as long, and only its busy state spares it.
    idle_id = await sc_start_kernel()
    await sc_wait_until(lambda: idle_id not in manager, what="the idle kernel to be culled")
    assert busy_id in manager

    flag.touch()
    await sc_wait_until(lambda: busy_id not in manager, what="the finished kernel to be culled")


async def test_one_subscription_per_kernel_with_no_server_watcher(
    jp_serverapp: Any, sc_start_kernel: Any, sc_connect: Any, sc_wait_until: Any
) -> None:
    kernel_id = await sc_start_kernel()
    clients = [await sc_connect(kernel_id, protocol) for protocol in ("v1", "v1", "legacy")]
    await clients[0].collect(await clients[0].execute("1", cell_id="one"))
    iopub_port = jp_serverapp.kernel_manager.get_kernel(kernel_id).iopub_port
    # stock: the activity watcher + one per websocket = 4
    assert established_connections_to(iopub_port) == 1


async def test_activity_is_kept_across_a_restart(
    jp_fetch: Any,
    jp_serverapp: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_wait_until: Any,
    tmp_path: Path,
) -> None:
    kernel_id = await sc_start_kernel()
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="")
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    client = await sc_connect(kernel_id, "v1")
    flag = tmp_path / "release"
    msg_id = await client.execute(blocking_cell(flag), cell_id="after-restart")
    await sc_wait_until(lambda: kernel.execution_state == "busy", what="busy after restart")
    flag.touch()
    await client.collect(msg_id)
    await sc_wait_until(lambda: kernel.execution_state == "idle", what="idle after restart")
    assert established_connections_to(kernel.iopub_port) == 1


async def test_stopping_the_extension_gives_watching_back_to_the_server(
    jp_serverapp: Any, sc_start_kernel: Any, sc_wait_until: Any
) -> None:
    kernel_id = await sc_start_kernel()
    manager = jp_serverapp.kernel_manager
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_sidecar_ext"]))
    app.activity.uninstall()

    assert manager.start_watching_activity.__func__ is type(manager).start_watching_activity
    assert isinstance(manager, MappingKernelManager)
    port = manager.get_kernel(kernel_id).iopub_port
    # the server's own watcher is back beside the (still live) sidecar subscription
    await sc_wait_until(lambda: established_connections_to(port) == 2, what="server watcher")


async def test_a_kernel_the_sidecar_cannot_take_keeps_the_server_watcher(
    jp_serverapp: Any, sc_registry: Any, sc_start_kernel: Any, sc_wait_until: Any, monkeypatch: Any
) -> None:
    def broken(kernel_id: str) -> None:
        raise RuntimeError("the sidecar cannot follow this kernel")

    monkeypatch.setattr(sc_registry, "adopt", broken)
    kernel_id = await sc_start_kernel()
    kernel = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    port = kernel.iopub_port
    # no sidecar subscription: the one connection is the server's own watcher
    await sc_wait_until(lambda: established_connections_to(port) == 1, what="server watcher")


async def test_messages_handed_out_in_one_loop_turn_stamp_last_activity_once(
    jp_serverapp: Any, sc_start_kernel: Any
) -> None:
    """Two traitlets set per iopub message cost a tenth of the server's CPU under flooding
    kernels; a batch handed out in one loop turn stamps once, after it."""
    import asyncio
    import logging

    from jupyter_sidecar_ext.protocol.message import KernelMessage
    from jupyter_sidecar_ext.tuning.activity import KernelActivity

    manager = jp_serverapp.kernel_manager
    kernel_id = await sc_start_kernel()
    kernel = manager.get_kernel(kernel_id)
    activity = KernelActivity(manager, kernel_id, logging.getLogger("test"))
    stamps: list[Any] = []
    kernel.observe(lambda change: stamps.append(change["new"]), "last_activity")
    parent = {"msg_id": "run", "msg_type": "execute_request"}
    batch = [
        KernelMessage.from_dict(
            {"header": {"msg_type": "stream"}, "parent_header": parent, "content": {"text": "x"}}
        )
        for _ in range(100)
    ]
    for msg in batch:
        activity.record(msg)
    assert stamps == []  # not per message
    await asyncio.sleep(0)  # the end of the loop turn
    assert len(stamps) == 1
    assert manager.last_kernel_activity == kernel.last_activity == stamps[0]
    activity.record(batch[0])  # the next batch stamps again
    await asyncio.sleep(0)
    assert len(stamps) == 2 and stamps[1] >= stamps[0]
