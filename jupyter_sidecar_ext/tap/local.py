"""The tap on local kernels' websockets: the server's ZMQ channels connection, with the
sidecar told about every execute_request and reply, and iopub served from the kernel's
one shared subscription.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import DELIM
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
from .burst import FrameBurst, mark_retrieved
from .ratelimit import IopubRateLimit

log = logging.getLogger(__name__)
# What the iopub relay replaces; a subclass that overrides one of them keeps the server's path.
STOCK_IOPUB_STEPS = ("_on_error", "_limit_rate", "_on_zmq_reply")


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
        self._burst: FrameBurst | None = None  # frames of the iopub batch being handed out
        self._relays_iopub = False  # iopub takes `_relay_iopub`, not the server's steps
        self._iopub_limit: IopubRateLimit | None = None

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
        iopub.batching = self._in_one_write
        self.channels["iopub"] = iopub

    @property
    def write_message(self) -> Callable[..., Any]:
        """The websocket's write, its failures marked as seen: when a page goes away (a
        ping timeout while output floods it), every write still on its way fails, nobody
        awaits them, and asyncio would log each one ("Task exception was never retrieved").
        Within a batch of iopub messages, writes are collected and go out together."""
        return self._write_quietly

    def _write_quietly(self, message: Any, binary: bool = False) -> Any:
        burst = self._burst
        if burst is not None:
            burst.add(message, binary)
            return None  # sent with the batch: nothing to wait for alone
        written = self.websocket_handler.write_message(message, binary=binary)
        written.add_done_callback(mark_retrieved)
        return written

    @contextmanager
    def _in_one_write(self, size: int) -> Iterator[None]:
        """Send a batch of iopub messages as one write: with TCP_NODELAY each websocket
        frame would otherwise leave as its own packet, each after its own system call.
        A single message goes out at once, as before."""
        protocol = self.websocket_handler.ws_connection
        if size < 2 or self._burst is not None or not FrameBurst.fits(protocol):
            yield
            return
        self._burst = burst = FrameBurst(protocol)
        try:
            yield
        finally:
            self._burst = None
            burst.write()

    def connect(self) -> Any:
        if self.tcp_nodelay and self.websocket_handler.ws_connection is not None:
            self.websocket_handler.set_nodelay(True)
        self._relays_iopub = self._can_relay_iopub()
        if self._relays_iopub and self.limit_rate:
            limit = IopubRateLimit(
                self.iopub_msg_rate_limit,
                self.iopub_data_rate_limit,
                self.rate_limit_window,
                notice=self.write_stderr,
                warn=self.log.warning,
            )
            self._iopub_limit = limit if limit.active else None
        self._count_open()
        return super().connect()

    def _can_relay_iopub(self) -> bool:
        """The relay does the server's iopub steps for v1 clients, tracebacks shown, while
        no subclass changed those steps."""
        stock = ZMQChannelsWebsocketConnection
        return (
            self.subprotocol == V1_SUBPROTOCOL
            and bool(self.multi_kernel_manager.allow_tracebacks)
            and all(getattr(type(self), step) is getattr(stock, step) for step in STOCK_IOPUB_STEPS)
        )

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
        channel = stream if isinstance(stream, str) else getattr(stream, "channel", None)
        if channel == "iopub":
            if self._relays_iopub:
                self._relay_iopub(stream, outgoing_msg)
            else:
                super().handle_outgoing_message(stream, outgoing_msg)
            return
        super().handle_outgoing_message(stream, outgoing_msg)
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

    def _relay_iopub(self, stream: Any, outgoing_msg: list[Any]) -> None:
        """The server's iopub steps for a v1 client (rate limit, closed-stream check,
        framing), without decoding what it passes on untouched."""
        try:
            parts = outgoing_msg[outgoing_msg.index(DELIM) + 2 :]
        except ValueError:  # not a Jupyter message: the server's own handling
            super().handle_outgoing_message(stream, outgoing_msg)
            return
        limit = self._iopub_limit
        if limit is not None and limit.drops(parts, time.monotonic()):
            return
        if isinstance(stream, str):
            stream = self.channels[stream]
        if stream.closed():
            self.log.warning("zmq message arrived on closed channel")
            self.disconnect()
            return
        self.write_message(serialize_msg_to_ws_v1(parts, "iopub"), binary=True)
