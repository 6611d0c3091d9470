"""The tap on local kernels' websockets: the server's ZMQ channels connection, with the
sidecar told about every execute_request and reply, and iopub served from the kernel's
one shared subscription.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.websocket import WebSocketClosedError
from traitlets import Bool

from ..protocol.frames import (
    V1_SUBPROTOCOL,
    execute_request_from_ws,
    is_input_reply,
    is_well_formed,
)
from ..protocol.message import KernelMessage
from .base import SidecarTap

CORK: int | None = getattr(socket, "TCP_CORK", None)  # Linux

log = logging.getLogger(__name__)


def _retrieved(future: asyncio.Future[Any]) -> None:
    """A done callback: a failed write nobody awaits is no error (the client is gone)."""
    if not future.cancelled():
        future.exception()


class SidecarKernelConnection(SidecarTap, ZMQChannelsWebsocketConnection):
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

    async def prepare(self) -> None:
        await super().prepare()
        await self._ensure_sidecar()

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

    @property
    def write_message(self) -> Callable[..., Any]:
        """The websocket's write, its failures marked as seen: when a page goes away (a
        ping timeout while output floods it), every write still on its way fails, nobody
        awaits them, and asyncio would log each one ("Task exception was never retrieved")."""
        return self._write_quietly

    def _write_quietly(self, message: Any, binary: bool = False) -> Any:
        written = self.websocket_handler.write_message(message, binary=binary)
        written.add_done_callback(_retrieved)
        return written

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
        self._count_open()
        return super().connect()

    def disconnect(self) -> None:  # type: ignore[override]  # sync, as the server's own
        try:
            super().disconnect()
        finally:
            self._count_closed()

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
                sidecar.on_execute_request(*request, client=self.session.session)
                if sidecar.executor.hold(self, incoming_msg, v1):
                    return  # the execution queue sends it in turn (execution/queue.py)
            elif sidecar is not None and sidecar.executor.follow(self, incoming_msg, v1):
                return  # another shell request, kept in order behind waiting executions
            elif sidecar is not None and is_input_reply(incoming_msg, v1):
                sidecar.on_input_reply()  # other pages stop offering the input box
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
        if sidecar is not None:  # its number is not an iopub message lost (protocol/numbers.py)
            sidecar.note_kernel_message()
        if channel not in ("shell", "stdin"):
            return
        msg = KernelMessage.from_zmq(outgoing_msg)
        try:
            if msg is None or sidecar is None:
                return
            if channel == "shell" and msg.msg_type == "execute_reply":
                sidecar.on_shell_reply(msg)
            elif channel == "stdin" and msg.msg_type == "input_request":
                sidecar.on_input_request(msg)  # kept on the cell: a reopened page can answer
        except (ValueError, TypeError):
            self.log.debug("jupyter_sidecar_ext: undecodable kernel message ignored")
