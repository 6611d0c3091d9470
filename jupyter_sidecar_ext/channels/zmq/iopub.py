"""One iopub subscription per kernel, fanned out to the recorder and every websocket.

Stock jupyter_server opens a SUB socket per websocket connection; each extra subscriber
costs the kernel's PUB socket a copy of every message, and the server's activity watcher
one more. Here a kernel has one SUB socket, whatever the number of connections, which also
keeps the server's activity markers (see tuning/activity.py).
Websocket connections get a `FanoutStream`, a stand-in for the ZMQStream the server would
have created, so the server's buffering, replay, nudging and rate limiting work unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import zmq

from ...protocol.message import KernelMessage

log = logging.getLogger(__name__)

MessageCallback = Callable[[KernelMessage], None]
RawCallback = Callable[[list[bytes]], None]

# Messages a connection holds while it has no callback (ZMQ's default receive HWM).
PENDING_LIMIT = 1000
# Messages read per event-loop turn before yielding to other work: as many as take about
# PASS_BUDGET seconds of wall time to hand out, within [MIN_BATCH, MAX_BATCH].
MAX_BATCH = 256
MIN_BATCH = 8
PASS_BUDGET = 0.002
# A hidden request's messages are held back until its idle (its last), or this long.
HIDE_FOR = 120.0


def batch_limit(count: int, elapsed: float) -> int:
    """The next batch size, from how long the last `count` messages took to hand out.

    Wall time, not CPU time: when busy kernels starve the server of CPU, each message takes
    longer and batches shrink, so one loop turn over all kernels stays short and REST
    requests (and the other kernels) are served between them."""
    if count <= 0 or elapsed <= 0:
        return MAX_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(PASS_BUDGET * count / elapsed)))


class IopubSubscription:
    """The kernel's single SUB socket: forwards raw frames first, then records.

    The receive high-water mark is 0 (unbounded), set before connecting: ZMQ's default
    (1000) silently drops messages under load, which is exactly when users need the copy.
    Messages are read in batches straight from the socket's file descriptor (no ZMQStream
    per message), and each connection gets a batch at once so it can send it in one go.
    Batches are sized to a few milliseconds of handing out (`batch_limit`).
    """

    def __init__(
        self,
        kernel_manager: Any,
        on_message: MessageCallback,
        on_hidden: MessageCallback | None = None,
    ) -> None:
        self._km = kernel_manager
        self._on_message = on_message
        self._on_hidden = on_hidden
        self._hidden: dict[str, float] = {}  # msg_id -> until when (monotonic)
        self._batch_limit = MAX_BATCH
        self._sock: zmq.Socket[bytes] | None = None
        self._fd: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._url = ""
        self._fanout: list[FanoutStream] = []
        self._reading = False

    @property
    def closed(self) -> bool:
        return self._sock is None or self._sock.closed

    def _iopub_url(self) -> str:
        info = self._km.get_connection_info()
        transport, ip, port = info["transport"], info["ip"], info["iopub_port"]
        return f"tcp://{ip}:{port}" if transport == "tcp" else f"{transport}://{ip}-{port}"

    def open(self) -> None:
        """Connect, or reconnect when the kernel's ports changed (restart with new ports)."""
        url = self._iopub_url()
        if not self.closed and url == self._url:
            return
        self._close_socket()
        sock = self._km.context.socket(zmq.SUB, socket_class=zmq.Socket)
        sock.linger = 0
        sock.setsockopt(zmq.RCVHWM, 0)
        public_key = getattr(self._km, "curve_publickey", None)
        if public_key is not None:
            sock.curve_secretkey = self._km.curve_secretkey
            sock.curve_publickey = public_key
            sock.curve_serverkey = public_key
        sock.setsockopt(zmq.SUBSCRIBE, b"")
        sock.connect(url)
        self._url = url
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._fd = sock.getsockopt(zmq.FD)
        self._loop.add_reader(self._fd, self._read)
        self._loop.call_soon(self._read)  # the FD is edge-triggered: look once now

    def stream(self) -> FanoutStream:
        """A new stand-in iopub stream for one websocket connection."""
        return FanoutStream(self)

    def flush(self) -> int:
        """Deliver what is already queued on the socket now (before a restart notice)."""
        return self._read()

    def close(self) -> None:
        """Stop receiving for good: the kernel is gone."""
        self._close_socket()
        self._fanout.clear()

    def _close_socket(self) -> None:
        if self._loop is not None and self._fd is not None:
            self._loop.remove_reader(self._fd)
        if self._sock is not None and not self._sock.closed:
            self._sock.close(linger=0)
        self._sock = self._fd = None

    def _attach(self, stream: FanoutStream) -> None:
        if stream not in self._fanout:
            self._fanout.append(stream)

    def _detach(self, stream: FanoutStream) -> None:
        if stream in self._fanout:
            self._fanout.remove(stream)

    def _read(self) -> int:
        """Drain up to a batch from the socket and dispatch it; returns messages read."""
        sock = self._sock
        if sock is None or sock.closed or self._reading:
            return 0
        self._reading = True
        limit = self._batch_limit
        batch: list[list[bytes]] = []
        try:
            while len(batch) < limit:
                try:
                    batch.append(sock.recv_multipart(zmq.NOBLOCK))
                except zmq.Again:
                    break
            if batch:
                started = time.perf_counter()
                self._dispatch(batch)
                self._batch_limit = batch_limit(len(batch), time.perf_counter() - started)
        except zmq.ZMQError as error:
            log.warning("iopub socket error: %s", error)
        finally:
            self._reading = False
        # ZMQ's FD only signals new edges: if we stopped early, come back on our own.
        if len(batch) == limit and self._loop is not None:
            self._loop.call_soon(self._read)
        return len(batch)

    def hide(self, msg_id: str) -> None:
        """Keep what answers `msg_id` (a request of the server's own on a kernel subshell:
        its busy/idle pair) from the clients and the recorder, until its idle or HIDE_FOR
        seconds. Costs the hot path nothing while no request is hidden."""
        self._hidden[msg_id] = time.monotonic() + HIDE_FOR

    def _dispatch(self, batch: list[list[bytes]]) -> None:
        # Clients first, untouched; each isolated so one failing connection can't starve
        # the others or the recorder.
        if self._hidden:
            now = time.monotonic()
            for lost in [key for key, until in self._hidden.items() if until < now]:
                del self._hidden[lost]  # its idle never came
        msgs = [KernelMessage.from_zmq(msg_list) for msg_list in batch] if self._hidden else None
        hidden = [] if msgs is None else [self._is_hidden(msg) for msg in msgs]
        shown = (
            [raw for raw, hide in zip(batch, hidden, strict=True) if not hide] if msgs else batch
        )
        for stream in tuple(self._fanout):
            try:
                if shown:
                    stream.deliver(shown)
            except Exception:
                log.exception("an iopub subscriber failed")
        for index, msg_list in enumerate(batch):
            msg = KernelMessage.from_zmq(msg_list) if msgs is None else msgs[index]
            if msg is None:
                continue
            try:
                if msgs is not None and hidden[index]:
                    if self._on_hidden is not None:
                        self._on_hidden(msg)
                else:
                    self._on_message(msg)
            except Exception:
                log.exception("failed to record an iopub message")

    def _is_hidden(self, msg: KernelMessage | None) -> bool:
        try:
            parent = None if msg is None else msg.parent_msg_id
        except ValueError:
            return False
        if parent is None or parent not in self._hidden:
            return False
        status = msg is not None and msg.msg_type == "status"
        if status and msg is not None and msg.content.get("execution_state") == "idle":
            del self._hidden[parent]  # its last message
        return True


class _SocketState:
    """What the server reads of `stream.socket` (only `.closed`, when it stops buffering)."""

    def __init__(self, stream: FanoutStream) -> None:
        self._stream = stream

    @property
    def closed(self) -> bool:
        return self._stream.closed()


def _no_batching(size: int) -> AbstractContextManager[None]:
    return nullcontext()


class FanoutStream:
    """The part of the ZMQStream interface the server uses on an iopub channel.

    Like a SUB socket, it is subscribed from creation until closed: messages arriving
    while no callback is set wait in a queue (bounded like ZMQ's default high-water mark)
    and are delivered, in order, from the event loop once a callback is set.
    """

    def __init__(self, subscription: IopubSubscription) -> None:
        self._subscription = subscription
        self._callback: RawCallback | None = None
        self._pending: deque[list[bytes]] = deque()
        self._drain_scheduled = False
        self._closed = False
        self.channel = "iopub"
        self.socket = _SocketState(self)
        # Wraps the delivery of a burst of n messages; a connection may set it to send a
        # burst as one network write.
        self.batching: Callable[[int], AbstractContextManager[None]] = _no_batching
        subscription._attach(self)

    def on_recv(self, callback: RawCallback | None, copy: bool = True) -> None:
        self._callback = callback
        if callback is not None and self._pending:
            self._schedule_drain()

    def on_recv_stream(
        self, callback: Callable[[Any, list[bytes]], None] | None, copy: bool = True
    ) -> None:
        if callback is None:
            self.on_recv(None)
        else:
            self.on_recv(lambda msg_list: callback(self, msg_list))

    def stop_on_recv(self) -> None:
        self.on_recv(None)

    def deliver(self, batch: list[list[bytes]]) -> None:
        """Hand a batch to the connection, or hold it while the connection has no callback."""
        if self._callback is not None and not self._pending:
            with self.batching(len(batch)):
                for index, msg_list in enumerate(batch):
                    callback = self._callback  # a callback may stop receiving mid-batch
                    if callback is None:
                        self._hold(batch[index:])
                        return
                    callback(msg_list)
            return
        self._hold(batch)

    def _hold(self, batch: list[list[bytes]]) -> None:
        if self._closed:
            return
        room = PENDING_LIMIT - len(self._pending)
        self._pending.extend(batch[:room])  # beyond: what a SUB socket does at its HWM
        if self._callback is not None:
            self._schedule_drain()

    def _schedule_drain(self) -> None:
        if not self._drain_scheduled:
            self._drain_scheduled = True
            asyncio.get_running_loop().call_soon(self._drain)

    def _drain(self) -> None:
        self._drain_scheduled = False
        with self.batching(len(self._pending)):
            while self._pending and self._callback is not None and not self._closed:
                self._callback(self._pending.popleft())

    def flush(self, flag: int = zmq.POLLIN | zmq.POLLOUT, limit: int | None = None) -> int:
        count = self._subscription.flush()
        if self._callback is not None:
            self._drain()
        return count

    def closed(self) -> bool:
        return self._closed or self._subscription.closed

    def close(self, linger: int | None = None) -> None:
        self._closed = True
        self._callback = None
        self._pending.clear()
        self._subscription._detach(self)
