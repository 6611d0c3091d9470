"""The sidecar's own shell channel to a local kernel, over ZMQ (a gateway kernel's goes over
its recorder websocket: channels/gateway/shell.py).

HTTP executions are sent on it, and so are queued websocket requests whose connection has
closed its shell stream (a plain kernel runs what it was sent, whoever is still listening).
One DEALER stream per kernel, opened on first use and closed on restart (ports may change)
and when the kernel goes away. Its messages are signed with a Session of its own holding the
kernel's key, so they carry a session id that tells them apart from the server's. A stdin
DEALER opens with it, under the same identity: the kernel sends a request's input_request to
the identity that sent it on shell, and takes input_replies from any peer (ipykernel).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from jupyter_client.session import Session

from ...protocol.message import KernelMessage
from ..base import ReplyCallback, ShellChannel


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
        self.session.send(self._open(), msg)

    def send_parts(self, parts: Sequence[bytes]) -> None:
        """Send an already serialized message [header, parent, metadata, content, *buffers],
        re-signed, as the server does for v1 websocket frames."""
        self.session.send_raw(self._open(), list(parts))

    def send_stdin(self, msg: dict[str, Any]) -> None:
        self._open()
        self.session.send(self._stdin, msg)

    def close(self) -> None:
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
            stream = self._km.connect_shell(identity=identity)
            stream.on_recv(self._received)
            self._stream = stream
        return self._stream

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
