"""The sidecar's own shell channel to a local kernel, over ZMQ (a gateway kernel's goes over
its recorder websocket: channels/gateway/shell.py).

HTTP executions are sent on it, and so are queued websocket requests whose connection has
closed its shell stream (a plain kernel runs what it was sent, whoever is still listening).
One DEALER stream per kernel, opened on first use and closed on restart (ports may change)
and when the kernel goes away. Its messages are signed with a Session of its own holding the
kernel's key, so they carry a session id that tells them apart from the server's. A stdin
DEALER opens with it, under the same identity: the kernel sends a request's input_request to
the identity that sent it on shell, and takes input_replies from any peer (ipykernel). Its
ROUTER drops what it cannot route, so nothing goes out on shell before the stdin socket has
finished its handshake (a socket monitor says when): an input() in the first request would
otherwise wait forever for an answer nobody was asked.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import zmq
from jupyter_client.session import Session
from zmq.eventloop.zmqstream import ZMQStream
from zmq.utils.monitor import parse_monitor_message

from ...protocol.message import KernelMessage
from ..base import ReplyCallback, ShellChannel

# Seconds to hold shell messages for the stdin handshake before sending them anyway: the monitor
# starts just after the kernel manager's connect, so a very fast handshake goes unseen, and a
# kernel whose stdin port cannot be reached still runs what does not ask for input.
STDIN_HANDSHAKE_WAIT = 2.0


class SidecarShell(ShellChannel):
    """A lazily opened shell stream whose execute_replies go to `on_reply`."""

    def __init__(
        self,
        kernel_manager: Any,
        on_reply: ReplyCallback,
        log: logging.Logger,
        on_input: ReplyCallback | None = None,
    ) -> None:
        self._km = kernel_manager
        self._on_reply = on_reply
        self._on_input = on_input
        self._log = log
        self._stream: Any = None
        self._stdin: Any = None
        self._session: Session | None = None
        # while the stdin handshake is pending: the monitor, its timer, the held sends
        self._monitor: ZMQStream | None = None
        self._monitor_timer: asyncio.TimerHandle | None = None
        self._held: list[Callable[[Any], object]] = []

    @property
    def session(self) -> Session:
        """Signs with the kernel's key (read when first needed: the kernel may be starting)."""
        if self._session is None:
            kernel_session = self._km.session
            self._session = Session(
                key=kernel_session.key,
                signature_scheme=kernel_session.signature_scheme,
                username="jupyter_sidecar_ext",
            )
        return self._session

    def send(self, msg: dict[str, Any]) -> None:
        """Send a message built with `session.msg` (its header, and msg_id, are kept)."""
        self._send(lambda stream: self.session.send(stream, msg))

    def send_parts(self, parts: Sequence[bytes]) -> None:
        """Send an already serialized message [header, parent, metadata, content, *buffers],
        re-signed, as the server does for v1 websocket frames."""
        frames = list(parts)
        self._send(lambda stream: self.session.send_raw(stream, frames))

    def _send(self, sender: Callable[[Any], object]) -> None:
        """Send now, or once the stdin socket can be answered (in the order asked)."""
        stream = self._open()
        if self._monitor is None:
            sender(stream)
        else:
            self._held.append(sender)

    def send_stdin(self, msg: dict[str, Any]) -> None:
        self._open()
        self.session.send(self._stdin, msg)

    def close(self) -> None:
        """Close both sockets; what was held for the handshake is dropped with them, as a
        closed socket drops what it had not sent (the kernel restarted or went away)."""
        self._stop_monitor()
        self._held.clear()
        for stream in (self._stream, self._stdin):
            if stream is not None and not stream.closed():
                stream.on_recv(None)
                stream.close(linger=0)
        self._stream = self._stdin = None

    def _open(self) -> Any:
        if self._stream is None or self._stream.closed():
            self.close()
            identity = self.session.bsession
            self._stdin = self._km.connect_stdin(identity=identity)
            self._stdin.on_recv(self._stdin_received)
            self._watch_stdin_handshake(self._stdin.socket)
            stream = self._km.connect_shell(identity=identity)
            stream.on_recv(self._received)
            self._stream = stream
        return self._stream

    def _watch_stdin_handshake(self, socket: zmq.Socket[Any]) -> None:
        # A base zmq.Socket, as ZMQStream wants, whatever the kernel manager's context makes.
        address = f"inproc://jupyter-sidecar-stdin-{uuid.uuid4().hex}"
        socket.monitor(address, zmq.EVENT_HANDSHAKE_SUCCEEDED)
        pair: zmq.Socket[Any] = zmq.Socket(socket.context, zmq.PAIR)
        pair.connect(address)
        monitor = ZMQStream(pair)
        monitor.on_recv(self._stdin_event)
        self._monitor = monitor
        loop = asyncio.get_running_loop()
        self._monitor_timer = loop.call_later(STDIN_HANDSHAKE_WAIT, self._stdin_ready, True)

    def _stdin_event(self, frames: list[bytes]) -> None:
        if parse_monitor_message(frames)["event"] == zmq.EVENT_HANDSHAKE_SUCCEEDED:
            self._stdin_ready(False)

    def _stdin_ready(self, timed_out: bool) -> None:
        """The kernel can route input requests to us now (or we stop waiting): send what
        was held, in order."""
        if timed_out:
            self._log.debug("no stdin handshake seen within %s s: sending", STDIN_HANDSHAKE_WAIT)
        self._stop_monitor()
        held, self._held = self._held, []
        if self._stream is not None and not self._stream.closed():
            for sender in held:
                try:
                    sender(self._stream)
                except Exception:  # one bad message does not keep back the others
                    self._log.exception("failed to send a held shell message")

    def _stop_monitor(self) -> None:
        if self._monitor_timer is not None:
            self._monitor_timer.cancel()
            self._monitor_timer = None
        monitor, self._monitor = self._monitor, None
        if monitor is None:
            return
        monitor.on_recv(None)
        if self._stdin is not None and not self._stdin.closed():
            self._stdin.socket.disable_monitor()
        monitor.close(linger=0)

    def _stdin_received(self, frames: list[bytes]) -> None:
        msg = KernelMessage.from_zmq(frames)
        try:
            if msg is not None and msg.msg_type == "input_request" and self._on_input:
                self._on_input(msg)
        except Exception:
            self._log.exception("failed to handle an input request")

    def _received(self, frames: list[bytes]) -> None:
        msg = KernelMessage.from_zmq(frames)
        try:
            if msg is not None and msg.msg_type == "execute_reply":
                self._on_reply(msg)
        except Exception:
            self._log.exception("failed to handle a shell reply")
