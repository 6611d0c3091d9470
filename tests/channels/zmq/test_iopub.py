"""One iopub subscription per kernel, fanned out: the server's own behaviours stay intact."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from jupyter_sidecar_ext.channels.zmq.iopub import FanoutStream
from jupyter_sidecar_ext.pytest_plugin import blocking_cell, established_connections_to


async def test_three_websockets_share_one_subscription(
    jp_serverapp: Any, sc_start_kernel: Any, sc_connect: Any, sc_registry: Any
) -> None:
    kernel_id = await sc_start_kernel()
    clients = [await sc_connect(kernel_id, protocol) for protocol in ("v1", "v1", "legacy")]
    # one write, so one stream message: print's '\n' can leave on its own under load
    msg_id = await clients[0].execute("print('to all\\n', end='')", cell_id="shared")
    for client in clients:
        replies = await client.collect(msg_id) if client is clients[0] else None
        if replies is None:  # the others see the iopub traffic too
            while True:
                msg = await client.receive()
                assert msg is not None
                if msg["header"]["msg_type"] == "stream":
                    assert msg["content"]["text"] == "to all\n"
                    break

    iopub_port = jp_serverapp.kernel_manager.get_kernel(kernel_id).iopub_port
    # only the sidecar's shared subscription (it also keeps the server's activity markers);
    # stock has the activity watcher plus one per websocket (4 here).
    assert established_connections_to(iopub_port) == 1
    fanout = sc_registry.find(kernel_id).channels._iopub._fanout
    assert len(fanout) == 3
    assert all(isinstance(stream, FanoutStream) for stream in fanout)


async def test_reconnect_replays_what_the_session_missed(
    sc_start_kernel: Any, sc_connect: Any, sc_wait_until: Any, jp_serverapp: Any, tmp_path: Path
) -> None:
    """The server buffers for the last session and replays on its reconnect (stock)."""
    kernel_id = await sc_start_kernel()
    session_id = uuid.uuid4().hex
    first = await sc_connect(kernel_id, "v1", session_id=session_id)
    # 'started' (one write), then nothing until the first client is gone: what it prints
    # once released can only reach the server's replay buffer
    release = tmp_path / "release"
    code = blocking_cell(
        release, announce=True, then="for i in range(20):\n    print(i, flush=True)\n"
    )
    msg_id = await first.execute(code, cell_id="replayed")
    seen: list[str] = []
    while not seen:
        msg = await first.receive()
        assert msg is not None
        if msg["header"]["msg_type"] == "stream":
            seen.append(msg["content"]["text"])
    first.close()
    manager = jp_serverapp.kernel_manager
    await sc_wait_until(
        lambda: manager._kernel_connections.get(kernel_id) == 0, what="the websocket to close"
    )
    release.touch()

    second = await sc_connect(kernel_id, "v1", session_id=session_id)
    replies = await second.collect(msg_id)
    seen += [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"]
    assert "".join(seen) == "started\n" + "".join(f"{i}\n" for i in range(20))


async def test_same_websocket_keeps_working_across_a_restart(
    jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    await client.collect(await client.execute("x = 1", cell_id="a"))
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="")
    msg_id = await client.execute("print('after restart')", cell_id="b")
    replies = await client.collect(msg_id)
    texts = [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"]
    assert "".join(texts) == "after restart\n"  # print may flush text and newline apart


async def test_a_callback_that_stops_mid_batch_keeps_the_rest_in_order() -> None:
    """The server's nudge stops receiving from inside its callback; nothing may be lost."""
    from jupyter_sidecar_ext.channels.zmq.iopub import IopubSubscription

    subscription = IopubSubscription(None, lambda msg: None)
    stream = subscription.stream()
    first: list[list[bytes]] = []

    def stop_after_two(msg_list: list[bytes]) -> None:
        first.append(msg_list)
        if len(first) == 2:
            stream.stop_on_recv()

    stream.on_recv(stop_after_two)
    subscription._dispatch([[b"1"], [b"2"], [b"3"], [b"4"]])
    assert first == [[b"1"], [b"2"]]
    later: list[list[bytes]] = []
    stream.on_recv(later.append)
    subscription._dispatch([[b"5"]])
    stream.flush()
    assert later == [[b"3"], [b"4"], [b"5"]]


async def test_streams_hold_messages_like_a_sub_socket_until_closed() -> None:
    from jupyter_sidecar_ext.channels.zmq.iopub import PENDING_LIMIT, IopubSubscription

    subscription = IopubSubscription(None, lambda msg: None)
    stream = subscription.stream()
    subscription._dispatch([[str(i).encode()] for i in range(PENDING_LIMIT + 10)])
    received: list[list[bytes]] = []
    stream.on_recv(received.append)
    stream.flush()
    assert len(received) == PENDING_LIMIT  # the rest dropped, as at a SUB socket's HWM
    assert received[0] == [b"0"]

    stream.close()
    subscription._dispatch([[b"after close"]])
    assert received[-1] != [b"after close"]
    assert stream not in subscription._fanout


def test_batches_shrink_when_handing_out_slows_and_grow_back() -> None:
    """A loop turn stays near PASS_BUDGET of wall time whatever each message costs, so
    REST requests and other kernels are served between batches of a busy kernel."""
    from jupyter_sidecar_ext.channels.zmq.iopub import (
        MAX_BATCH,
        MIN_BATCH,
        PASS_BUDGET,
        batch_limit,
    )

    assert batch_limit(256, 256 * 1e-6) == MAX_BATCH  # 1 us each: the cap
    assert batch_limit(256, 256 * 40e-6) == int(PASS_BUDGET / 40e-6)  # 40 us each
    assert batch_limit(50, 50 * 400e-6) == max(MIN_BATCH, int(PASS_BUDGET / 400e-6))
    assert batch_limit(8, 8 * 0.1) == MIN_BATCH  # a starved server still makes progress
    assert batch_limit(8, 8 * 1e-6) == MAX_BATCH  # and recovers at once
    assert batch_limit(0, 0.0) == MAX_BATCH


async def test_hidden_requests_reach_neither_clients_nor_the_recorder() -> None:
    """The busy/idle pair answering a request of the server's own (the variables explorer's
    subshell requests) is held back until its idle; everything else passes untouched."""
    from jupyter_client.session import Session

    from jupyter_sidecar_ext.channels.zmq.iopub import IopubSubscription
    from jupyter_sidecar_ext.protocol.message import KernelMessage

    session = Session(key=b"")
    ours, user = session.msg("execute_request", {}), session.msg("execute_request", {})

    def status(parent: dict[str, Any], state: str) -> list[bytes]:
        msg = session.msg("status", {"execution_state": state}, parent=parent)
        return [b"status", *session.serialize(msg)]

    recorded: list[KernelMessage] = []
    hidden: list[KernelMessage] = []
    subscription = IopubSubscription(None, recorded.append, hidden.append)
    stream = subscription.stream()
    delivered: list[list[bytes]] = []
    stream.on_recv(delivered.append)
    subscription.hide(ours["header"]["msg_id"])
    batch = [status(user, "busy"), status(ours, "busy"), status(ours, "idle"), status(user, "idle")]
    subscription._dispatch(batch)
    assert delivered == [batch[0], batch[3]]
    assert [m.parent_msg_id for m in recorded] == [user["header"]["msg_id"]] * 2
    assert [m.parent_msg_id for m in hidden] == [ours["header"]["msg_id"]] * 2
    assert subscription._hidden == {}  # forgotten at its idle: the hot path is plain again
    late = status(ours, "busy")
    subscription._dispatch([late])
    assert delivered[-1] == late and recorded[-1].parent_msg_id == ours["header"]["msg_id"]
