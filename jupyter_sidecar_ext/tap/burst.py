"""A burst of websocket messages written to the client's socket as one write.

Tornado writes every message on its own: a frame, a `send` system call (with TCP_NODELAY,
a TCP segment) and an asyncio task that only waits for it. A batch of iopub messages read
in one loop turn goes out here as the same frames, in the same order, in one `send`.
"""

from __future__ import annotations

import struct
from asyncio import Future
from typing import Any

from tornado.iostream import StreamClosedError
from tornado.websocket import WebSocketClosedError, WebSocketProtocol13

FIN = 0x80
TEXT = 0x1
BINARY = 0x2


def _frame_header(opcode: int, size: int) -> bytes:
    """RFC 6455 5.2, a server's final unmasked frame (tornado's `_write_frame`)."""
    if size < 126:
        return struct.pack("!BB", FIN | opcode, size)
    if size <= 0xFFFF:
        return struct.pack("!BBH", FIN | opcode, 126, size)
    return struct.pack("!BBQ", FIN | opcode, 127, size)


def mark_retrieved(future: Future[Any]) -> None:
    """A done callback: a failed write nobody awaits is no error (the client is gone)."""
    if not future.cancelled():
        future.exception()


class FrameBurst:
    """Frames collected for one websocket connection, sent by `write`."""

    def __init__(self, protocol: WebSocketProtocol13) -> None:
        self._protocol = protocol
        self._chunks: list[bytes] = []
        self._message_bytes = 0

    @staticmethod
    def fits(protocol: Any) -> bool:
        """Frames can be built here: tornado's server protocol, uncompressed, unmasked
        (permessage-deflate keeps tornado's own write)."""
        return (
            isinstance(protocol, WebSocketProtocol13)
            and not protocol.mask_outgoing
            and getattr(protocol, "_compressor", None) is None
            and hasattr(protocol, "_message_bytes_out")
            and hasattr(protocol, "_wire_bytes_out")
        )

    def add(self, message: bytes | str, binary: bool) -> None:
        """Queue one message, raising like tornado's write when the socket is closing."""
        if self._protocol.is_closing():
            raise WebSocketClosedError()
        data = message.encode() if isinstance(message, str) else message
        self._chunks.append(_frame_header(BINARY if binary else TEXT, len(data)))
        self._chunks.append(data)
        self._message_bytes += len(data)

    def write(self) -> None:
        """Send what was queued; a client gone meanwhile loses it, as with tornado's writes."""
        chunks, self._chunks = self._chunks, []
        if not chunks:
            return
        protocol = self._protocol
        payload = b"".join(chunks)
        protocol._message_bytes_out += self._message_bytes
        protocol._wire_bytes_out += len(payload)
        self._message_bytes = 0
        if protocol.is_closing():
            return
        try:
            written = protocol.stream.write(payload)
        except StreamClosedError:
            return
        written.add_done_callback(mark_retrieved)
