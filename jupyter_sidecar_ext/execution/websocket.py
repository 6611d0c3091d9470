"""Queue entries for execute_requests that came from a kernel websocket.

When its turn comes the request is forwarded through its own connection, so its reply goes
back to that client as usual; when the client has gone, on the shell stream the server keeps
for the client's reconnect, else on the sidecar's own shell channel (a plain kernel would
still run it). An aborted request gets what ipykernel sends for one (`dispatch_shell` with
`_aborting`: iopub busy, shell `execute_reply {"status": "aborted"}` with ipykernel's
metadata, iopub idle, the request as parent), built with the connection's session and framed
for its subprotocol, to its own client only: a plain kernel would broadcast the two statuses,
which other clients ignore but for the kernel's status indicator.
"""

from __future__ import annotations

from typing import Any

from .._tz import utcnow
from ..channels.base import ShellChannel
from ..protocol.frames import parse_request
from .queue import QueueEntry, Source


def websocket_entry(
    connection: Any, frame: str | bytes, v1: bool, shell: ShellChannel
) -> QueueEntry | None:
    """A queue entry for a client's execute_request, or None when it must not be held:
    unreadable, or addressed to a kernel subshell (those run concurrently by design)."""
    parsed = parse_request(frame, v1)
    if parsed is None:
        return None
    msg, parts = parsed
    header, content, metadata = msg["header"], msg["content"], msg["metadata"]
    msg_id, code = header.get("msg_id"), content.get("code", "")
    if not isinstance(msg_id, str) or not isinstance(code, str) or header.get("subshell_id"):
        return None
    cell_id = metadata.get("cellId")
    session = header.get("session")
    return QueueEntry(
        msg_id=msg_id,
        code=code,
        cell_id=cell_id if isinstance(cell_id, str) and cell_id else None,
        session=session if isinstance(session, str) else "",
        header=header,
        sender=WebsocketSender(connection, frame, parts, shell),
        silent=bool(content.get("silent", False)),
        stop_on_error=bool(content.get("stop_on_error", True)),
    )


class WebsocketSender:
    """Reaches the kernel through the client's connection, and answers that client."""

    source: Source = "websocket"

    def __init__(
        self, connection: Any, frame: str | bytes, parts: list[bytes], shell: ShellChannel
    ) -> None:
        self._connection = connection
        self._frame = frame
        self._parts = parts
        self._shell = shell
        self._through_sidecar = False

    def forward(self) -> None:
        if self._client_open():
            self._connection.send_to_kernel(self._frame)  # the server's own path
            return
        channels = getattr(self._connection, "channels", None)  # a gateway relay has none
        stream = channels.get("shell") if channels else None
        if stream is not None and not stream.closed():
            # The server keeps a closed client's channels for its reconnect: the reply
            # waits there for it, as it would have had the kernel queued the request.
            self._connection.session.send_raw(stream, self._parts)
        else:
            self._through_sidecar = True
            self._shell.send_parts(self._parts)

    def reply_observable(self) -> bool:
        return self._through_sidecar or self._client_open()

    def aborted(self, entry: QueueEntry, running: QueueEntry | None) -> None:
        if not self._client_open():
            return  # nobody to tell
        session = self._connection.session
        parent = entry.header
        started = utcnow().isoformat().replace("+00:00", "Z")  # as ipykernel writes it
        metadata = {"started": started, "dependencies_met": True, "status": "aborted"}
        send = self._connection.send_to_client
        send(session.msg("status", {"execution_state": "busy"}, parent=parent), "iopub")
        reply = session.msg("execute_reply", {"status": "aborted"}, parent=parent)
        reply["metadata"] = metadata
        send(reply, "shell")
        send(session.msg("status", {"execution_state": "idle"}, parent=parent), "iopub")
        if running is not None:
            # The kernel is still busy with another request: say so again, or the client's
            # kernel status would read idle while that one runs.
            busy = session.msg("status", {"execution_state": "busy"}, parent=running.header)
            send(busy, "iopub")

    def dropped(self, entry: QueueEntry) -> None:
        """Nothing is said: a restarted kernel never answers what it had queued (and the
        server tells clients it restarted)."""

    def _client_open(self) -> bool:
        return self._connection.websocket_handler.ws_connection is not None
