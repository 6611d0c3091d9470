"""Recording in gateway mode (`--gateway-url`) against a real Kernel Gateway: each remote
kernel has its own recorder websocket, so outputs are recorded with cell ids and reply
statuses whether or not a browser is connected, and outages of the gateway or of the recorder's
connection are survived with backoff, marked as gaps, and logged in a few lines."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from traitlets.config import Config

from jupyter_sidecar_ext.channels.gateway import GatewayChannels
from jupyter_sidecar_ext.channels.gateway import recorder as gateway_recorder
from jupyter_sidecar_ext.channels.gateway.frames import (
    backoff_delay,
    message_from_legacy,
    message_from_v1,
)
from jupyter_sidecar_ext.channels.gateway.recorder import GatewayRecorder
from jupyter_sidecar_ext.events import CELL_CHANGED_SCHEMA
from jupyter_sidecar_ext.pytest_gateway import RestartableKernelGateway
from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient
from jupyter_sidecar_ext.registry import SidecarRegistry

Wait = Callable[..., Awaitable[None]]
OWN_GATEWAY = pytest.mark.parametrize("jp_server_config", ["own"], indirect=True)
# Code that prints a numbered line every `pause` seconds: a cell that is still running.
SLOW_PRINTS = "import time\nfor i in range({n}):\n    print(i, flush=True)\n    time.sleep({pause})"


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """Gateway mode against the session's gateway, or (param "own") against a gateway of the
    test's own that it may kill and restart."""
    if getattr(request, "param", None) == "own":
        config: Config = request.getfixturevalue("sc_restartable_gateway_config")
    else:
        config = request.getfixturevalue("sc_gateway_server_config")
    return config


@pytest.fixture
def cell_events(jp_serverapp: Any) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        events.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=CELL_CHANGED_SCHEMA, listener=listener)
    return events


def recorder_of(registry: SidecarRegistry, kernel_id: str) -> GatewayRecorder:
    sidecar = registry.find(kernel_id)
    assert sidecar is not None
    assert isinstance(sidecar.channels, GatewayChannels)
    return sidecar.channels.recorder


async def receiving_recorder(
    registry: SidecarRegistry, kernel_id: str, wait: Wait
) -> GatewayRecorder:
    """The kernel's recorder once it receives: clients are let in before it does (a test
    that drops, kills or counts its connection, or has the last client leave while a cell
    runs, must not start before)."""
    recorder = recorder_of(registry, kernel_id)
    await wait(lambda: recorder.answered, what="the recorder to receive")
    return recorder


def cell_of(registry: SidecarRegistry, kernel_id: str, cell_id: str) -> dict[str, Any] | None:
    sidecar = registry.find(kernel_id)
    cell = None if sidecar is None else sidecar.notebook.get(cell_id)
    return None if cell is None else cell.to_dict()


def printed(cell: dict[str, Any] | None) -> str:
    outputs = [] if cell is None else cell["outputs"]
    return "".join(o.get("text", "") for o in outputs if o["output_type"] == "stream")


def sidecar_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    """The extension's own log lines (its logger is the server's, named after it)."""
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= level and r.name.rpartition(".")[2] == "jupyter_sidecar_ext"
    ]


async def until_idle(client: KernelWebsocketClient, msg_id: str) -> None:
    """Read an observer's messages until the request's idle (iopub reaches every client)."""
    while True:
        msg = await client.receive()
        assert msg is not None, "observer closed"
        parent = msg.get("parent_header", {}).get("msg_id")
        state = msg.get("content", {}).get("execution_state")
        if parent == msg_id and msg["header"]["msg_type"] == "status" and state == "idle":
            return


# -- no kernel needed ----------------------------------------------------------------------------


def test_backoff_doubles_up_to_its_cap_with_jitter() -> None:
    for attempt, full in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]):
        delay = backoff_delay(attempt, 0.5, 30.0)
        assert full / 2 <= delay <= full
    assert backoff_delay(10_000, 0.5, 30.0) <= 30.0


def test_frames_become_messages_without_trusting_them() -> None:
    from jupyter_client.session import Session
    from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1

    session = Session(key=b"")
    msg = session.msg("stream", {"name": "stdout", "text": "hi"}, parent=session.msg("x", {}))
    parsed = message_from_v1(serialize_msg_to_ws_v1(msg, "iopub", session.pack))
    assert parsed is not None
    channel, kernel_msg = parsed
    assert (channel, kernel_msg.msg_type, kernel_msg.content["text"]) == ("iopub", "stream", "hi")
    assert kernel_msg.parent_msg_type == "x"
    legacy = message_from_legacy(json.dumps({**msg, "channel": "iopub"}, default=str))
    assert legacy is not None and legacy[1].content == {"name": "stdout", "text": "hi"}
    assert message_from_v1(b"\xff" * 40) is None
    assert message_from_legacy("not json") is None
    assert message_from_legacy("[1]") is None


# -- recording ------------------------------------------------------------------------------------


async def test_a_cell_is_recorded_with_its_cell_id_outputs_and_reply(
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    sc_wait_until: Wait,
    cell_events: list[dict[str, Any]],
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")  # the gateway relay forces legacy

    def outputs_of(cell_id: str) -> list[dict[str, Any]]:
        cell = cell_of(sc_registry, kernel_id, cell_id)
        return [] if cell is None else list(cell["outputs"])

    await client.collect(await client.execute("print('hi')\n6 * 7", cell_id="cell-a"))
    await client.collect(await client.execute("1 / 0", cell_id="cell-b"))

    # The reply travels on the client's connection, outputs on the recorder's: wait for both.
    await sc_wait_until(lambda: len(outputs_of("cell-a")) == 2, what="cell-a's outputs")
    await sc_wait_until(lambda: len(outputs_of("cell-b")) == 1, what="cell-b's output")
    cell = await sc_cell_finished(kernel_id, "cell-a")
    assert cell["status"] == "ok"
    assert cell["execution_count"] == 1
    assert cell["outputs"][0] == {"output_type": "stream", "name": "stdout", "text": "hi\n"}
    assert cell["outputs"][1]["data"]["text/plain"] == "42"
    assert not cell["gap"]
    failed = await sc_cell_finished(kernel_id, "cell-b")
    assert failed["status"] == "error"
    assert failed["outputs"][0]["ename"] == "ZeroDivisionError"
    # (outputs are recorded from the client's relay until the recorder receives)
    assert (await receiving_recorder(sc_registry, kernel_id, sc_wait_until)).connects == 1

    notebook = json.loads((await jp_fetch("api", "sidecar", "kernels", kernel_id, "notebook")).body)
    assert [c["id"] for c in notebook["cells"]] == ["cell-a", "cell-b"]
    one = json.loads(
        (await jp_fetch("api", "sidecar", "kernels", kernel_id, "cells", "cell-a")).body
    )
    assert one["outputs"] == cell["outputs"]
    kernels = json.loads((await jp_fetch("api", "sidecar", "kernels")).body)
    assert kernel_id in {k["kernel_id"] for k in kernels}

    def finished_event() -> bool:
        return any(
            e["kernel_id"] == kernel_id and e["cell_id"] == "cell-b" and e["status"] == "error"
            for e in cell_events
        )

    await sc_wait_until(finished_event, timeout=30, what="the cell_changed event")

    store = sc_registry  # recorded cells are persisted as for local kernels
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        stored = await store.stored_notebook(kernel_id)
        cells = {} if stored is None else {c["id"]: c for c in stored["cells"]}
        if cells.get("cell-b", {}).get("status") == "error":
            break
        assert loop.time() < deadline, "the store never got the cells"
        await asyncio.sleep(0.05)  # polling the store, as sc_wait_until polls state
    assert cells["cell-a"]["outputs"] == cell["outputs"]


async def test_a_cell_keeps_being_recorded_after_its_client_left(
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    sc_wait_until: Wait,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    # were the last client to leave before the recorder receives, what still runs would be
    # marked `gap` (tests/tap/test_gateway_outages.py covers that)
    await receiving_recorder(sc_registry, kernel_id, sc_wait_until)
    await client.execute(SLOW_PRINTS.format(n=8, pause=0.1), cell_id="slow")
    await sc_wait_until(
        lambda: "0\n" in printed(cell_of(sc_registry, kernel_id, "slow")), what="first output"
    )
    client.close()  # no browser from here on

    cell = await sc_cell_finished(kernel_id, "slow")
    assert printed(cell) == "".join(f"{i}\n" for i in range(8))
    assert cell["status"] == "ok"  # no reply reached anyone: the idle decided
    assert not cell["gap"]


async def test_variables_are_listed_over_the_recorder(
    jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, sc_wait_until: Wait
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    await client.collect(await client.execute("answer = 42", cell_id="v"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 60
    while True:
        response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables")
        payload = json.loads(response.body)
        names = {v["name"]: v for v in payload["variables"]}
        if payload["state"] == "ok" and "answer" in names:
            break
        assert payload["state"] != "unavailable", payload
        assert loop.time() < deadline, payload
        await asyncio.sleep(0.05)  # polling the cache, as sc_wait_until polls state
    assert names["answer"]["value"] == "42"


# -- outages --------------------------------------------------------------------------------------


async def test_a_dropped_recorder_connection_reconnects_and_marks_the_gap(
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    sc_wait_until: Wait,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only the recorder's websocket drops (the gateway and kernel live on), while a cell
    runs; the cell ends before the recorder is back: the observer's relay records its end
    meanwhile (marked as a gap: the drop may have cut messages), and the recorder comes
    back."""
    caplog.set_level(logging.DEBUG)
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    observer = await sc_connect(kernel_id, "legacy")
    recorder = await receiving_recorder(sc_registry, kernel_id, sc_wait_until)  # a link to drop
    held = asyncio.Event()
    connect = gateway_recorder.websocket_connect

    async def held_connect(*args: Any, **kwargs: Any) -> Any:
        await held.wait()
        return await connect(*args, **kwargs)

    msg_id = await client.execute(SLOW_PRINTS.format(n=4, pause=0.2), cell_id="cut")
    await sc_wait_until(
        lambda: "0\n" in printed(cell_of(sc_registry, kernel_id, "cut")), what="first output"
    )
    client.close()  # nobody gets the reply
    monkeypatch.setattr(gateway_recorder, "websocket_connect", held_connect)
    ws = recorder._ws
    assert ws is not None and ws.protocol is not None and ws.protocol.stream is not None
    ws.protocol.stream.close()  # the connection drops under the recorder
    await sc_wait_until(
        lambda: (cell_of(sc_registry, kernel_id, "cut") or {}).get("gap") is True,
        what="the gap mark",
    )
    await until_idle(observer, msg_id)  # the cell ended while the recorder was away
    held.set()

    cell = await sc_cell_finished(kernel_id, "cut")  # the observer's relay saw its end
    assert cell["gap"] and cell["status"] == "ok"
    await sc_wait_until(lambda: recorder.connects == 2 and recorder.answered, what="the recorder")

    again = await observer.execute("print('after')", cell_id="after")
    await until_idle(observer, again)
    # the reply comes through the observer's relay, the outputs through the recorder's own
    # websocket: the cell can read finished a moment before its output is recorded
    await sc_wait_until(
        lambda: printed(cell_of(sc_registry, kernel_id, "after")) == "after\n",
        what="the recorder to record the cell run after it came back",
    )
    after = await sc_cell_finished(kernel_id, "after")
    assert printed(after) == "after\n" and not after["gap"]
    assert len(sidecar_lines(caplog, logging.WARNING)) == 1  # one warning for the outage
    assert any("is back" in line for line in sidecar_lines(caplog, logging.INFO))


@OWN_GATEWAY
async def test_a_killed_gateway_marks_the_gap_and_retires_its_dead_kernels(
    sc_restartable_gateway: RestartableKernelGateway,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_wait_until: Wait,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kernel Gateway's kernels die with it: once it answers again it says 404, and the
    sidecar retires (no reconnect loop), the cell that was running marked aborted with a gap;
    the outage costs a handful of log lines and a few attempts, not a flood."""
    caplog.set_level(logging.DEBUG)
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    # connected before the kill: its reconnect attempts and its one warning are counted
    recorder = await receiving_recorder(sc_registry, kernel_id, sc_wait_until)
    await client.execute(SLOW_PRINTS.format(n=600, pause=0.1), cell_id="long")
    await sc_wait_until(
        lambda: "0\n" in printed(cell_of(sc_registry, kernel_id, "long")), what="first output"
    )
    sc_restartable_gateway.kill()
    await sc_wait_until(
        lambda: (cell_of(sc_registry, kernel_id, "long") or {}).get("gap") is True,
        what="the gap mark",
    )
    await sc_wait_until(lambda: recorder.attempts >= 3, what="a few reconnect attempts")
    sc_restartable_gateway.start()
    await sc_wait_until(lambda: sc_registry.get(kernel_id) is None, what="the retirement")

    cell = cell_of(sc_registry, kernel_id, "long")
    assert cell is not None and cell["gap"] and cell["status"] == "aborted"
    attempts = recorder.attempts
    assert attempts < 20, attempts  # backoff, not spinning
    warnings = [line for line in sidecar_lines(caplog, logging.WARNING) if kernel_id in line]
    assert len(warnings) == 1, warnings
    assert len([line for line in sidecar_lines(caplog, logging.INFO) if kernel_id in line]) <= 3
    assert sc_registry.adopt(kernel_id) is None  # never adopted again
    assert recorder.attempts == attempts


async def test_a_kernel_shut_down_behind_the_servers_back_is_retired(
    sc_kernel_gateway: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_wait_until: Wait,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    await client.collect(await client.execute("print(1)", cell_id="c"))
    # connected before the kernel goes: a first connection still opening would fail, retry
    recorder = await receiving_recorder(sc_registry, kernel_id, sc_wait_until)
    request = urllib.request.Request(
        f"{sc_kernel_gateway.url}/api/kernels/{kernel_id}",
        method="DELETE",
        headers={"Authorization": f"token {sc_kernel_gateway.auth_token}"},
    )
    await asyncio.to_thread(urllib.request.urlopen, request, timeout=30)
    await sc_wait_until(lambda: sc_registry.get(kernel_id) is None, what="the retirement")
    assert recorder.attempts == 1  # no reconnect attempts
    assert sc_registry.adopt(kernel_id) is None


async def test_a_kernel_shut_down_through_the_server_is_retired_at_once(
    jp_fetch: Any, sc_start_kernel: Any, sc_registry: SidecarRegistry, sc_wait_until: Wait
) -> None:
    kernel_id = await sc_start_kernel()
    sidecar = await sc_registry.ensure(kernel_id)
    assert sidecar is not None and sidecar.receiving
    recorder = recorder_of(sc_registry, kernel_id)
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    await sc_wait_until(lambda: sc_registry.get(kernel_id) is None, what="the retirement")
    await recorder.wait_closed()
    assert recorder.attempts == 1


async def test_a_kernel_the_gateway_restarts_on_its_own_ends_the_old_run(
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: SidecarRegistry,
    sc_cell_finished: Any,
    sc_wait_until: Wait,
) -> None:
    """The kernel process dies behind the server's back; the gateway's restarter brings a new
    one up and says `restarting`: the running cell is aborted, the recorder opens a fresh
    websocket (streams on the new process's ports) and receives from the new process."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    replies = await client.collect(await client.execute("import os; print(os.getpid())"))
    pid = int(next(m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"))
    # its first connection made before the kill: the renewal is its second
    recorder = await receiving_recorder(sc_registry, kernel_id, sc_wait_until)
    await client.execute(SLOW_PRINTS.format(n=600, pause=0.1), cell_id="doomed")
    await sc_wait_until(
        lambda: "0\n" in printed(cell_of(sc_registry, kernel_id, "doomed")), what="first output"
    )
    os.kill(pid, signal.SIGKILL)
    cell = await sc_cell_finished(kernel_id, "doomed", frozenset({"aborted"}))
    assert cell["status"] == "aborted"

    # A restart soon after start gives the new process new ports; jupyter_server's open
    # connections keep their streams on the old ones, so the recorder opens a fresh one, and
    # receives again once the new process answers its nudge on it. The gateway says
    # `restarting` before it restarts: a fresh websocket opened on the old ports is renewed
    # again (this test failed in CI when only one renewal was made).
    await sc_wait_until(
        lambda: recorder.connects >= 2 and recorder.answered, what="the recorder's renewal"
    )


async def test_a_fresh_websocket_that_hears_nothing_after_a_restart_notice_is_renewed(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: SidecarRegistry, sc_wait_until: Wait
) -> None:
    """The gateway says `restarting` before its restarter restarts the kernel, so the fresh
    websocket the recorder opens on that notice may get its streams on the old process's
    ports and hear nothing. Here the kernel is stopped (SIGSTOP) when the notice comes: the
    fresh websocket's nudges go unanswered, so the recorder opens another, and receives on it
    once the kernel runs again."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "legacy")
    replies = await client.collect(await client.execute("import os; print(os.getpid())"))
    pid = int(next(m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"))
    recorder = await receiving_recorder(sc_registry, kernel_id, sc_wait_until)
    os.kill(pid, signal.SIGSTOP)
    try:
        notice = {"header": {"msg_type": "status", "msg_id": "n", "session": "gateway"}}
        notice |= {"parent_header": {}, "metadata": {}, "content": {}, "channel": "iopub"}
        notice["content"] = {"execution_state": "restarting"}
        recorder._dispatch(json.dumps(notice))
        await sc_wait_until(lambda: recorder.connects >= 3, what="a second fresh websocket")
        assert not recorder.answered
    finally:
        os.kill(pid, signal.SIGCONT)
    await sc_wait_until(lambda: recorder.answered, what="the kernel's answer")
