"""A kernel's control channel, for the variables service's requests only.

ipykernel answers control requests on their own thread, in order, one at a time, even while a
cell runs, never touching the shell queue, the execution count or history. The busy/idle pair
it publishes around each has the request as parent, which JupyterLab ignores for
`debug_request` and `kernel_info_request` (the page gets the server's `untracked_message_types`)
and jupyter_server counts neither as activity nor as execution state. One DEALER socket per
kernel, opened on first use and reopened when a restart moves the control port; replies are
matched by parent msg_id, so a late reply (a request that timed out) still resolves its future.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session

from ..protocol.message import KernelMessage

# Replies at most this big are decoded on the event loop; bigger ones in a worker thread.
INLINE_DECODE_BYTES = 64 * 1024
# After a timeout, how long a late answer is still awaited (and used) before giving up.
LATE_ANSWER = 120.0


class ControlError(Exception):
    """No answer to be had; `unavailable` when this kernel process will never give one,
    `dropped` when the kernel handled the request without answering it."""

    def __init__(self, reason: str, unavailable: bool = False, dropped: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.unavailable = unavailable
        self.dropped = dropped


class ControlChannel:
    """Send requests on a kernel's control channel and await their replies by msg_id."""

    #: the kernel channel the socket connects to (a subclass may use "shell")
    channel = "control"

    def __init__(
        self,
        kernel_manager: Any,
        log: logging.Logger,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        """`on_request` is told of each request sent: each gets a numbered reply from the
        kernel that is not an iopub message (see protocol/numbers.py)."""
        self._km = kernel_manager
        self._log = log
        self._on_request = on_request
        self._stream: Any = None
        self._port: Any = None
        self._pending: dict[str, asyncio.Future[list[bytes]]] = {}

    async def check_debugger(self, timeout: float) -> None:
        """Raise ControlError(unavailable) unless the kernel says it speaks the debug protocol
        (kernel_info `supported_features`, ipykernel 6's `debugger` flag, or the kernelspec)."""
        content = (await self.request("kernel_info_request", {}, timeout)).get("content") or {}
        features = content.get("supported_features")
        if isinstance(features, list):
            capable = "debugger" in features
        else:  # before kernel protocol 5.5
            metadata = getattr(getattr(self._km, "kernel_spec", None), "metadata", None) or {}
            capable = content.get("debugger") is True or metadata.get("debugger") is True
        if not capable:
            language = (content.get("language_info") or {}).get("name") or "this"
            raise ControlError(
                f"The {language} kernel does not support the debugger protocol (for ipykernel, "
                "install debugpy), so its variables cannot be listed without running code.",
                unavailable=True,
            )

    async def debug(
        self,
        command: str,
        arguments: dict[str, Any],
        timeout: float,
        on_slow: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """The body of a debug_request's reply (a Debug Adapter Protocol response)."""
        content = {"type": "request", "seq": 1, "command": command, "arguments": arguments}
        reply = await self.request("debug_request", content, timeout, on_slow)
        body = (reply.get("content") or {}).get("body")
        if not isinstance(body, dict):
            raise ControlError(f"The kernel answered {command} without a result.", True)
        return body

    async def request(
        self,
        msg_type: str,
        content: dict[str, Any],
        timeout: float,
        on_slow: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Send a request and await its reply.

        Without `on_slow`, past `timeout` the request is abandoned. With it, `on_slow` is
        called and a `kernel_info_request` tells a slow kernel from one that dropped the
        request: control requests are handled in order, so if that reply comes back first,
        ours was handled without an answer (e.g. the echo kernel's debug handler raises).
        A slow answer is still awaited, up to LATE_ANSWER seconds, and returned.
        """
        future = self._send_counted(msg_type, content)
        done, _ = await asyncio.wait({future}, timeout=timeout)
        if not done:
            if on_slow is None:
                future.cancel()
                raise ControlError(f"The kernel did not answer within {timeout:g} s.")
            on_slow()
            barrier = self._send_counted("kernel_info_request", {})
            done, _ = await asyncio.wait(
                {future, barrier}, timeout=LATE_ANSWER, return_when=asyncio.FIRST_COMPLETED
            )
            barrier.cancel()
            if future not in done:
                future.cancel()
                if not done:
                    raise ControlError(f"The kernel did not answer within {LATE_ANSWER:g} s.")
                raise ControlError(
                    f"The kernel handled {msg_type} without answering it.", dropped=True
                )
        try:
            return await self.decode(future.result())
        except ConnectionError:
            raise ControlError("The kernel restarted during the request.") from None
        except ValueError as error:
            raise ControlError(f"Undecodable reply from the kernel: {error}") from None

    def _send_counted(self, msg_type: str, content: dict[str, Any]) -> asyncio.Future[list[bytes]]:
        future = self.send(msg_type, content)
        if self._on_request is not None:
            self._on_request()
        return future

    def send(self, msg_type: str, content: dict[str, Any]) -> asyncio.Future[list[bytes]]:
        """Send a request; the future resolves with the reply's raw parts (see `decode`)."""
        stream = self._connect()
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        session = self._km.session
        msg = session.send(stream, msg_type, content, header=self.header(session, msg_type))
        self._pending[msg["header"]["msg_id"]] = future
        future.add_done_callback(lambda _: self._pending.pop(msg["header"]["msg_id"], None))
        return future

    def header(self, session: Session, msg_type: str) -> dict[str, Any]:
        """The header of a request (a subclass may add fields, e.g. a subshell id)."""
        header: dict[str, Any] = session.msg_header(msg_type)
        return header

    async def decode(self, parts: list[bytes]) -> dict[str, Any]:
        """The reply as a message dict (signature checked); large ones decoded off the loop."""
        session = self._km.session
        _, msg_list = session.feed_identities(parts)
        if sum(len(part) for part in msg_list) <= INLINE_DECODE_BYTES:
            return decode_reply(session, msg_list)
        return await asyncio.to_thread(decode_reply, session, msg_list)

    def close(self) -> None:
        """Close the socket; requests still waiting fail with ConnectionError."""
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(ConnectionError("control channel closed"))
        self._pending.clear()
        if self._stream is not None and not self._stream.closed():
            self._stream.close(linger=0)
        self._stream = None

    def _connect(self) -> Any:
        connect = getattr(self._km, f"connect_{self.channel}", None)
        info = getattr(self._km, "get_connection_info", None)
        if connect is None or info is None:
            raise ControlError(
                f"The server has no local {self.channel} channel to this kernel.", True
            )
        port = info().get(f"{self.channel}_port")
        if self._stream is not None and (self._stream.closed() or port != self._port):
            self.close()  # the kernel moved: a new process answers on the new port
        if self._stream is None:
            self._stream = connect()
            self._stream.on_recv(self._on_reply)
            self._port = port
        return self._stream

    def _on_reply(self, parts: list[bytes]) -> None:
        msg = KernelMessage.from_zmq(parts)
        try:
            parent = None if msg is None else msg.parent_msg_id
        except ValueError:
            parent = None
        future = self._pending.pop(parent, None) if parent else None
        if future is not None and not future.done():
            future.set_result(parts)


def decode_reply(session: Session, msg_list: list[bytes]) -> dict[str, Any]:
    """A reply's message dict, its signature checked without being remembered.

    `Session.deserialize` adds every signature it unpacks content for to the session's
    replay history, and this session is the kernel manager's, kept as long as the kernel:
    a signature per variables refresh, so about 110 bytes per execution, until
    jupyter_client's cap of 65,536 (some 8 MiB per kernel). Replay protection buys nothing
    here: a reply resolves the request waiting for its parent msg_id once, and a copy finds
    none. Deserializing without content checks the signature (and rejects one already in
    the history) but does not record it; the content is then unpacked alone.
    """
    msg: dict[str, Any] = session.deserialize(msg_list, content=False)
    msg["content"] = session.unpack(msg["content"])
    return msg
