"""Everything that touches websocket or ZMQ frames: the tap on kernel websockets and the
sidecar's own iopub subscription.

Decoding here is lazy and partial on purpose: the kernel->client path forwards frames
untouched, and the recorder decodes only the small JSON parts it needs.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError
from traitlets import Bool

DELIM = b"<IDS|MSG>"
V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
SIDECAR_SETTING = "jupyter_sidecar_ext_registry"
MAX_V1_PARTS = 1024
CORK: int | None = getattr(
    socket, "TCP_CORK", None
)  # Linux  # channel + header, parent, metadata, content + buffers

log = logging.getLogger(__name__)


def _loads(part: bytes | memoryview | str) -> Any:
    return json.loads(bytes(part) if isinstance(part, memoryview) else part)


class KernelMessage:
    """A kernel message decoded on demand from its ZMQ parts (after the delimiter)."""

    __slots__ = ("_content", "_header", "_parent", "_parts")

    def __init__(self, parts: Sequence[bytes]) -> None:
        # parts: [signature, header, parent_header, metadata, content, *buffers]
        self._parts = parts
        self._header: dict[str, Any] | None = None
        self._parent: dict[str, Any] | None = None
        self._content: dict[str, Any] | None = None

    @classmethod
    def from_zmq(cls, msg_list: Sequence[bytes]) -> KernelMessage | None:
        """Split identities off a raw ZMQ message; None when it is not a Jupyter message."""
        try:
            idx = msg_list.index(DELIM)
        except ValueError:
            return None
        parts = msg_list[idx + 1 :]
        return cls(parts) if len(parts) >= 5 else None

    @property
    def header(self) -> dict[str, Any]:
        if self._header is None:
            self._header = _loads(self._parts[1])
        return self._header

    @property
    def parent_header(self) -> dict[str, Any]:
        if self._parent is None:
            self._parent = _loads(self._parts[2]) or {}
        return self._parent

    @property
    def content(self) -> dict[str, Any]:
        if self._content is None:
            self._content = _loads(self._parts[4])
        return self._content

    @property
    def metadata(self) -> dict[str, Any]:
        """Decoded on each call (rarely needed: HTTP execution streams)."""
        value = _loads(self._parts[3])
        return value if isinstance(value, dict) else {}

    @property
    def msg_type(self) -> str:
        return str(self.header.get("msg_type", ""))

    @property
    def parent_msg_id(self) -> str | None:
        value = self.parent_header.get("msg_id")
        return value if isinstance(value, str) else None

    @property
    def parent_msg_type(self) -> str | None:
        value = self.parent_header.get("msg_type")
        return value if isinstance(value, str) else None


def split_v1_frame(ws_msg: bytes) -> tuple[bytes, list[bytes]] | None:
    """Split a `v1.kernel.websocket.jupyter.org` frame into (channel, parts), or None when
    its offset table is not consistent (hostile or truncated frames must not be trusted:
    a forged offset count would make a naive parser allocate without bound)."""
    if not isinstance(ws_msg, bytes) or len(ws_msg) < 8:
        return None
    count = int.from_bytes(ws_msg[:8], "little")
    if not 3 <= count <= MAX_V1_PARTS or 8 * (count + 1) > len(ws_msg):
        return None
    offsets = [int.from_bytes(ws_msg[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != 8 * (count + 1) or offsets[-1] > len(ws_msg):
        return None
    if any(later < earlier for earlier, later in itertools.pairwise(offsets)):
        return None
    parts = [ws_msg[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    return ws_msg[offsets[0] : offsets[1]], parts


def split_legacy_binary_frame(ws_msg: bytes) -> list[bytes] | None:
    """Split a legacy-protocol binary frame (JSON message + buffers) into its parts, or None
    when its offset table is inconsistent (the server's own parser trusts the count)."""
    if len(ws_msg) < 8:
        return None
    count = int.from_bytes(ws_msg[:4], "big")
    if not 1 <= count <= MAX_V1_PARTS or 4 * (count + 1) > len(ws_msg):
        return None
    offsets = [int.from_bytes(ws_msg[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
    offsets.append(len(ws_msg))
    if offsets[0] != 4 * (count + 1) or any(b < a for a, b in itertools.pairwise(offsets)):
        return None
    return [ws_msg[start:stop] for start, stop in itertools.pairwise(offsets)]


def is_well_formed(ws_msg: str | bytes, v1: bool) -> bool:
    """Whether a client frame is structurally sound enough to hand to the server's parser."""
    if v1:
        return isinstance(ws_msg, bytes) and split_v1_frame(ws_msg) is not None
    return isinstance(ws_msg, str) or split_legacy_binary_frame(ws_msg) is not None


def execute_request_from_ws(ws_msg: str | bytes, v1: bool) -> tuple[str, str, str | None] | None:
    """Return (msg_id, code, cellId) when a client->kernel websocket frame is an
    execute_request on the shell channel, else None. Never raises: malformed frames are
    left to the server's own handling."""
    try:
        if v1:
            if not isinstance(ws_msg, bytes) or b"execute_request" not in ws_msg:
                return None
            split = split_v1_frame(ws_msg)
            if split is None or split[0] != b"shell" or len(split[1]) < 4:
                return None
            header = json.loads(split[1][0])
            if header.get("msg_type") != "execute_request":
                return None
            metadata = json.loads(split[1][2])
            content = json.loads(split[1][3])
        else:
            if isinstance(ws_msg, bytes):
                parts = split_legacy_binary_frame(ws_msg)
                if b"execute_request" not in ws_msg or parts is None:
                    return None
                msg = json.loads(parts[0])
            else:
                if "execute_request" not in ws_msg:
                    return None
                msg = json.loads(ws_msg)
            if msg.get("channel", "shell") != "shell":
                return None
            header = msg["header"]
            if header.get("msg_type") != "execute_request":
                return None
            metadata = msg.get("metadata") or {}
            content = msg.get("content") or {}
        msg_id = header["msg_id"]
        code = content.get("code", "")
        cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
        if not isinstance(msg_id, str) or not isinstance(code, str):
            return None
        return msg_id, code, cell_id if isinstance(cell_id, str) and cell_id else None
    except Exception:  # any malformed frame: not ours to judge, the server logs it
        return None


def shell_header_from_ws(ws_msg: str | bytes, v1: bool) -> dict[str, Any] | None:
    """The header of a client->kernel frame on the shell channel, else None (other
    channels, malformed frames). Decodes the frame: call it only when it matters."""
    try:
        if v1:
            split = split_v1_frame(ws_msg) if isinstance(ws_msg, bytes) else None
            if split is None or split[0] != b"shell" or not split[1]:
                return None
            header = json.loads(split[1][0])
        else:
            if isinstance(ws_msg, bytes):
                parts = split_legacy_binary_frame(ws_msg)
                msg = None if parts is None else json.loads(parts[0])
            else:
                msg = json.loads(ws_msg)
            if not isinstance(msg, dict) or msg.get("channel", "shell") != "shell":
                return None
            header = msg.get("header")
        return header if isinstance(header, dict) else None
    except Exception:  # malformed: left to the server's own handling
        return None


class SidecarKernelConnection(ZMQChannelsWebsocketConnection):
    """The server's kernel websocket connection, tapped for the sidecar.

    client->kernel: execute_requests are registered with the kernel's sidecar before they
    are forwarded. kernel->client: frames are forwarded first, untouched; only shell
    execute_replies are then peeked at (header, then content).
    """

    tcp_nodelay = Bool(
        True,
        config=True,
        help="Set TCP_NODELAY on kernel websockets: without it, Nagle's algorithm and "
        "delayed ACKs add tens of milliseconds to every small message round trip.",
    )

    share_iopub = Bool(
        True,
        config=True,
        help="Serve this connection's iopub from the kernel's one sidecar subscription "
        "instead of a SUB socket per connection: recording then costs no extra subscriber.",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._held: list[str] = []  # client messages held while the recorder reconnects
        self._release: asyncio.Future[None] | None = None

    @property
    def _sidecar(self) -> Any:
        registry = self.websocket_handler.settings.get(SIDECAR_SETTING)
        return None if registry is None else registry.get(self.kernel_id)

    async def prepare(self) -> None:
        await super().prepare()
        registry = self.websocket_handler.settings.get(SIDECAR_SETTING)
        if registry is not None:
            # The recorder must be receiving before the first client can send anything.
            await registry.ensure(self.kernel_id)

    def create_stream(self) -> None:
        """Like the server's, but iopub is the kernel's shared subscription (fan-out)."""
        sidecar = self._sidecar if self.share_iopub else None
        if sidecar is None:
            super().create_stream()
            return
        identity = self.session.bsession
        for channel in ("shell", "control", "stdin"):
            stream = getattr(self.kernel_manager, "connect_" + channel)(identity=identity)
            stream.channel = channel
            self.channels[channel] = stream
        iopub = sidecar.iopub_stream()
        iopub.batching = self._corked
        self.channels["iopub"] = iopub

    @contextmanager
    def _corked(self, size: int) -> Iterator[None]:
        """Send a burst of iopub messages as few TCP segments: with TCP_NODELAY each
        websocket frame would otherwise leave as its own packet. A single message goes
        out at once, as before."""
        sock = None
        if size > 1 and CORK is not None and self.websocket_handler.ws_connection is not None:
            sock = getattr(self.websocket_handler.ws_connection.stream, "socket", None)
        if sock is None:
            yield
            return
        sock.setsockopt(socket.IPPROTO_TCP, CORK, 1)
        try:
            yield
        finally:
            sock.setsockopt(socket.IPPROTO_TCP, CORK, 0)

    def connect(self) -> Any:
        if self.tcp_nodelay and self.websocket_handler.ws_connection is not None:
            self.websocket_handler.set_nodelay(True)
        return super().connect()

    def handle_incoming_message(self, incoming_msg: str) -> None:
        v1 = self.subprotocol == V1_SUBPROTOCOL
        if not is_well_formed(incoming_msg, v1):
            self.log.warning("jupyter_sidecar_ext: dropped a malformed websocket frame")
            return
        sidecar = self._sidecar
        if self._held or (sidecar is not None and not sidecar.receiving):
            self._hold(incoming_msg, sidecar)
            return
        self._forward(incoming_msg, v1)

    def _hold(self, incoming_msg: str, sidecar: Any) -> None:
        """Keep client messages, in order, while the recorder reconnects to a restarted
        kernel: what the new kernel process answers must not be missed."""
        self._held.append(incoming_msg)
        if self._release is None and sidecar is not None:
            self._release = asyncio.ensure_future(self._release_when_receiving(sidecar))

    async def _release_when_receiving(self, sidecar: Any) -> None:
        try:
            await sidecar.until_receiving()
        finally:
            held, self._held, self._release = self._held, [], None
            v1 = self.subprotocol == V1_SUBPROTOCOL
            for incoming_msg in held:
                self._forward(incoming_msg, v1)

    def _forward(self, incoming_msg: str, v1: bool) -> None:
        if self.channels:
            request = execute_request_from_ws(incoming_msg, v1)
            sidecar = self._sidecar
            if sidecar is not None and request is not None:
                sidecar.on_execute_request(*request)
                if sidecar.executor.hold(self, incoming_msg, v1):
                    return  # the execution queue sends it in turn (execution_queue.py)
            elif sidecar is not None and sidecar.executor.follow(self, incoming_msg, v1):
                return  # another shell request, kept in order behind waiting executions
        self.send_to_kernel(incoming_msg)

    def send_to_kernel(self, incoming_msg: str) -> None:
        """Forward a client frame to the kernel, as the server does."""
        try:
            super().handle_incoming_message(incoming_msg)
        except Exception as error:  # the stock handler raises on malformed frames
            self.log.warning(
                "jupyter_sidecar_ext: dropped a malformed websocket message: %r", error
            )

    def send_to_client(self, msg: dict[str, Any], channel: str) -> None:
        """Write a message the server made (e.g. an aborted reply for a dequeued request)
        to this client, framed for its subprotocol as the server frames its own statuses."""
        try:
            if self.subprotocol == V1_SUBPROTOCOL:
                frame = serialize_msg_to_ws_v1(msg, channel, self.session.pack)
                self.write_message(frame, binary=True)
            else:
                self.write_message(json.dumps({**msg, "channel": channel}, default=json_default))
        except WebSocketClosedError:
            self.log.debug("jupyter_sidecar_ext: client gone before a server message")

    def handle_outgoing_message(self, stream: Any, outgoing_msg: list[Any]) -> None:
        super().handle_outgoing_message(stream, outgoing_msg)
        channel = stream if isinstance(stream, str) else getattr(stream, "channel", None)
        if channel == "iopub":
            return
        sidecar = self._sidecar
        if sidecar is not None:  # its number is not an iopub message lost (sidecar.py)
            sidecar.note_kernel_message()
        if channel != "shell":
            return
        msg = KernelMessage.from_zmq(outgoing_msg)
        try:
            if msg is None or msg.msg_type != "execute_reply":
                return
            if sidecar is not None:
                sidecar.on_shell_reply(msg)
        except (ValueError, TypeError):
            self.log.debug("jupyter_sidecar_ext: undecodable shell reply ignored")
