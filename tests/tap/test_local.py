"""The local kernel websocket tap: hostile frames are dropped without harming the kernel, and
sockets have TCP_NODELAY; with real kernels, both subprotocols."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_sidecar_ext.pytest_plugin import HOSTILE_FRAMES


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
async def test_hostile_frames_are_dropped_and_the_kernel_stays_usable(
    protocol: str, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, protocol)
    for frame in HOSTILE_FRAMES:
        await client.ws.write_message(frame, binary=isinstance(frame, bytes))
    msg_id = await client.execute("print('still here')", cell_id="after")
    replies = await client.collect(msg_id)
    texts = [m["content"]["text"] for m in replies if m["header"]["msg_type"] == "stream"]
    assert "".join(texts) == "still here\n"  # print may flush text and newline apart


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
async def test_kernel_websockets_have_tcp_nodelay(
    protocol: str, sc_start_kernel: Any, sc_connect: Any
) -> None:
    """Without TCP_NODELAY, Nagle + delayed ACK add tens of ms to every tiny round trip."""
    import socket

    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection,
    )

    from jupyter_sidecar_ext.tap.local import SidecarKernelConnection

    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, protocol)
    await client.collect(await client.execute("1"))
    (connection,) = [
        c for c in ZMQChannelsWebsocketConnection._open_sockets if c.kernel_id == kernel_id
    ]
    assert isinstance(connection, SidecarKernelConnection)
    sock = connection.websocket_handler.ws_connection.stream.socket
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


FLOOD = (
    "import sys\nfor i in range(50000):\n    sys.stdout.write(f'{i}\\n')\n    sys.stdout.flush()\n"
)


async def test_a_client_gone_mid_flood_costs_no_error_per_write(
    sc_start_kernel: Any, sc_connect: Any, sc_cell_finished: Any
) -> None:
    """A page that vanishes while output floods it (a ping timeout, a dropped network) fails
    the writes still on their way; nobody awaits them, and that is no error to log."""
    import asyncio
    import gc
    import socket
    import struct

    from tornado.websocket import WebSocketClosedError

    loop = asyncio.get_running_loop()
    contexts: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _, context: contexts.append(context))
    try:
        kernel_id = await sc_start_kernel()
        client = await sc_connect(kernel_id, "v1")
        msg_id = await client.execute(FLOOD, cell_id="flood")
        while (message := await client.receive()) and message["header"]["msg_type"] != "stream":
            pass
        stream = client.ws.protocol.stream  # gone without a close handshake: a reset
        stream.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        stream.close()
        await sc_cell_finished(kernel_id, msg_id)  # recording went on to the end
        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    failed_writes = [c for c in contexts if isinstance(c.get("exception"), WebSocketClosedError)]
    assert failed_writes == []
