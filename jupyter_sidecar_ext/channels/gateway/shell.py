"""The sidecar's own shell channel to a gateway kernel: its recorder's websocket (channel
"shell") instead of a local ZMQ socket, which gateway kernels lack.

Same contract as the ZMQ one (channels/zmq/shell.py): HTTP executions, and queued requests whose
client has gone, are sent on it; the gateway gives the replies to what the recorder's
websocket sent back to that websocket only, and the recorder hands the execute_replies to
the reply callback. Messages go unsigned, as a browser's do (the gateway signs them).
The recorder's websocket outlives kernel restarts and reconnects on its own, so `close` has
nothing to do; `send` raises ConnectionError while it is down, `send_parts` waits for it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from jupyter_client.session import Session

from ...protocol.message import MESSAGE_KEYS, KernelMessage
from ..base import ReplyCallback, ShellChannel

if TYPE_CHECKING:
    from .recorder import GatewayRecorder


class RemoteShell(ShellChannel):
    """A ShellChannel over a GatewayRecorder's websocket."""

    def __init__(
        self, recorder: GatewayRecorder, on_reply: ReplyCallback, on_input: ReplyCallback
    ) -> None:
        self._recorder = recorder
        self._on_reply = on_reply
        self._on_input = on_input

    @property
    def session(self) -> Session:
        return self._recorder.session

    def send(self, msg: dict[str, Any]) -> None:
        self._recorder.send("shell", msg)

    def send_parts(self, parts: Sequence[bytes]) -> None:
        """The parts are a client's request as it sent it; the recorder frames it anew for
        its own websocket's protocol (binary buffers are not carried: execute_requests have
        none). They are the requests of clients whose relay lost the gateway: sent once the
        recorder receives (its execution queue waits for their reply meanwhile)."""
        msg = {key: json.loads(part) for key, part in zip(MESSAGE_KEYS, parts, strict=False)}
        self._recorder.send_when_receiving("shell", msg)

    def send_stdin(self, msg: dict[str, Any]) -> None:
        self._recorder.send("stdin", msg)

    def close(self) -> None:
        """Nothing to close: the recorder's websocket is the kernel's, not the channel's."""

    def on_reply(self, channel: str, msg: KernelMessage) -> None:
        """The recorder's reply callback: execute_replies and input_requests to what was
        sent here."""
        if channel == "shell" and msg.msg_type == "execute_reply":
            self._on_reply(msg)
        elif channel == "stdin" and msg.msg_type == "input_request":
            self._on_input(msg)
