"""A batch of iopub messages leaves in one write, as the frames tornado would have written
one by one: checked with tornado's own websocket client, and with a real kernel's flood."""

from __future__ import annotations

import socket
from typing import Any

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application
from tornado.websocket import WebSocketHandler, websocket_connect

from jupyter_sidecar_ext.tap.burst import FrameBurst

MESSAGES: list[tuple[bytes | str, bool]] = [
    ("short text é", False),
    (b"\x00\x01binary", True),
    (b"m" * 300, True),  # a 16-bit length
    (b"L" * 70_000, True),  # a 64-bit length
    ("", False),
]


class BurstHandler(WebSocketHandler):
    def open(self) -> None:
        protocol = self.ws_connection
        assert FrameBurst.fits(protocol)
        burst = FrameBurst(protocol)
        for message, binary in MESSAGES:
            burst.add(message, binary)
        writes = []
        original = protocol.stream.write
        protocol.stream.write = lambda data: writes.append(data) or original(data)
        burst.write()
        self.settings["writes"].extend(writes)
        self.settings["bytes_out"].append(protocol._message_bytes_out)


async def test_a_burst_is_one_write_of_the_frames_tornado_would_write() -> None:
    writes: list[bytes] = []
    bytes_out: list[int] = []
    (listener,) = bind_sockets(0, "127.0.0.1", family=socket.AF_INET)
    port = listener.getsockname()[1]
    app = Application([("/ws", BurstHandler)], writes=writes, bytes_out=bytes_out)
    server = HTTPServer(app)
    server.add_sockets([listener])
    try:
        client = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
        received = [await client.read_message() for _ in MESSAGES]
        client.close()
    finally:
        server.stop()
    assert received == [message for message, _ in MESSAGES]
    assert len(writes) == 1
    assert bytes_out == [sum(len(m.encode() if isinstance(m, str) else m) for m, _ in MESSAGES)]


async def test_a_batch_of_kernel_messages_reaches_a_v1_client_in_one_write(
    sc_start_kernel: Any, sc_connect: Any
) -> None:
    """A batch the kernel's iopub subscription hands out (here: 200 stream messages signed
    with the kernel's session) leaves in one write, every message in order."""
    from jupyter_server.services.kernels.connection.channels import (
        ZMQChannelsWebsocketConnection,
    )

    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    await client.collect(await client.execute("1"))
    (connection,) = [
        c for c in ZMQChannelsWebsocketConnection._open_sockets if c.kernel_id == kernel_id
    ]
    session = connection.session
    batch = [
        session.serialize(session.msg("stream", {"name": "stdout", "text": f"{i}\n"}))
        for i in range(200)
    ]
    stream = connection.websocket_handler.ws_connection.stream
    writes = []
    original = stream.write
    stream.write = lambda data: writes.append(data) or original(data)
    try:
        connection.channels["iopub"].deliver(batch)
    finally:
        stream.write = original
    received = [await client.receive() for _ in batch]
    assert [m["content"]["text"] for m in received] == [f"{i}\n" for i in range(200)]
    assert len(writes) == 1
