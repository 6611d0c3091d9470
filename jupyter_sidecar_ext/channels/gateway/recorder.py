"""GatewayRecorder: the always-on recorder of one kernel run by a gateway (`--gateway-url`).

Gateway kernels have no local ZMQ socket, so each gets one websocket of its own to the
gateway's `/api/kernels/{id}/channels` (the server's GatewayClient URL, headers, token and
TLS). It records the kernel's iopub whether or not a browser is connected, as the local
subscription does, and also carries the sidecar's shell (shell.py) and control (control.py)
messages; channels.py puts the three behind the KernelChannels seam. It speaks
`v1.kernel.websocket.jupyter.org` when the gateway accepts it (legacy JSON otherwise) and keeps
its session id across reconnects, so the gateway replays what it buffered meanwhile. README
"Deploying with JupyterHub and Enterprise Gateway" has the reconnect and retirement behaviour.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from jupyter_server.gateway.gateway_client import GatewayClient, gateway_request
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.escape import url_escape
from tornado.httpclient import HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, WebSocketClosedError, websocket_connect

from ...protocol.frames import V1_SUBPROTOCOL
from ...protocol.message import KernelMessage
from .frames import backoff_delay, json_parts, message_from_legacy, message_from_v1, retrieved

MessageCallback = Callable[[KernelMessage], None]
# A shell or control message answering something sent on this websocket, with its channel.
ChannelReply = Callable[[str, KernelMessage], None]
# How often a nudge is repeated until the kernel's iopub answers one (seconds).
NUDGE_INTERVAL = 0.5
# Nudges per connection before giving up on an answer (a hung kernel is not nudged forever).
NUDGE_LIMIT = 60
# After a restart notice: nudges left unanswered on the fresh websocket before it is renewed
# again, and how many times. jupyter_client's restarter tells clients `restarting` before it
# restarts the kernel, so a websocket opened at once can get its streams on the old process's
# ports, and a restart soon after start gives the new process new ones.
RENEW_AFTER_NUDGES = 10
RENEWALS = 5
# After a shutdown_reply, how many times the gateway is asked whether the kernel is gone.
GONE_CHECKS = 5


class _Probe:
    """After a reconnect: which of the cells unfinished during the outage have ended.

    A kernel_info_request on shell is handled after every request sent before it (the main
    shell runs one at a time), and iopub is ordered, so when its `busy` arrives, the idle of
    every earlier request has been published: a cell still unfinished by then lost its idle
    during the outage."""

    def __init__(self, msg_id: str, suspects: list[str]) -> None:
        self.msg_id = msg_id
        self.suspects = suspects


class GatewayRecorder:
    """One remote kernel's own websocket to the gateway (see the module doc)."""

    def __init__(
        self,
        kernel_id: str,
        on_message: MessageCallback,
        log: logging.Logger,
        *,
        mark_unfinished: Callable[[], list[str]],
        on_caught_up: Callable[[Iterable[str]], None],
        on_restarting: Callable[[], None],
        on_gone: Callable[[], None],
        on_reply: ChannelReply | None = None,
        tcp_nodelay: bool = True,
    ) -> None:
        """`on_message` gets iopub messages; `mark_unfinished` marks the unfinished cells as
        having a gap (when the connection drops, and when it is back) and returns their
        msg_ids; `on_caught_up` gets those of them that
        ended while it was away; `on_restarting` is called when the gateway restarted the
        kernel on its own; `on_gone` once the gateway no longer knows the kernel; `on_reply`
        gets shell and control messages (replies to what was sent with `send`)."""
        self.kernel_id = kernel_id
        self._on_message = on_message
        self._log = log
        self._mark_unfinished = mark_unfinished
        self._on_caught_up = on_caught_up
        self._on_restarting = on_restarting
        self._on_gone = on_gone
        self._on_reply = on_reply
        self._tcp_nodelay = tcp_nodelay
        self._session = Session(key=b"", username="jupyter_sidecar_ext")
        self._ws: WebSocketClientConnection | None = None
        self._v1 = True
        self._closed = False
        self._renew = False  # the open websocket is closed on purpose, to open a fresh one
        self._renewals = 0  # fresh websockets left to open until one is answered (restarts)
        self._task: asyncio.Task[None] | None = None
        self._receiving = asyncio.Event()
        self._nudges: set[str] = set()
        self._nudged = asyncio.Event()  # this connection's nudge was answered
        self._probe: _Probe | None = None
        self._suspects: list[str] = []  # unfinished cells when the connection dropped
        self._checking: asyncio.Task[None] | None = None
        self._nudging: asyncio.Task[None] | None = None
        self._pending: dict[str, asyncio.Future[list[bytes]]] = {}  # request() by msg_id
        self._deferred: list[tuple[str, dict[str, Any]]] = []  # send_when_receiving()
        self.connects = 0  # successful connections so far (1 + reconnects)
        self.attempts = 0  # connection attempts so far

    # -- public ------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._ws is not None

    @property
    def receiving(self) -> bool:
        return self._receiving.is_set()

    @property
    def closed(self) -> bool:
        return self._closed

    def add_suspects(self, msg_ids: list[str]) -> None:
        """Cells that may have ended unseen before this connection receives (clients' relays
        recorded them until they closed): probed, as after an outage, once it receives."""
        self._suspects = list(dict.fromkeys([*self._suspects, *msg_ids]))

    @property
    def answered(self) -> bool:
        """Whether the kernel answered on the current websocket (its nudge came back on
        iopub): the connection receives from the current kernel process."""
        return self._nudged.is_set()

    async def start(self, timeout: float) -> None:
        """Connect in the background; return once the kernel's iopub reaches us (or after
        `timeout`, with one warning: readers must never wait forever)."""
        if self._task is None and not self._closed:
            self._task = asyncio.ensure_future(self._run())
        try:
            await asyncio.wait_for(self._receiving.wait(), timeout)
        except asyncio.TimeoutError:
            if not self._closed:
                self._log.warning(
                    "no iopub traffic from gateway kernel %s within %gs",
                    self.kernel_id,
                    timeout,
                )

    def send(self, channel: str, msg: dict[str, Any]) -> None:
        """Send a message built with `session.msg` on a channel of the recorder's websocket
        (unsigned, as a browser does: the gateway signs it). Raises ConnectionError when not
        connected."""
        ws = self._ws
        if ws is None:
            raise ConnectionError(f"not connected to the gateway for kernel {self.kernel_id}")
        try:
            if self._v1:
                frame: str | bytes = serialize_msg_to_ws_v1(msg, channel, self._session.pack)
            else:
                frame = json.dumps({**msg, "channel": channel}, default=json_default)
            written = ws.write_message(frame, binary=self._v1)
        except WebSocketClosedError as error:
            raise ConnectionError(str(error)) from None
        written.add_done_callback(retrieved)  # a close meanwhile is handled by the reader

    def send_when_receiving(self, channel: str, msg: dict[str, Any]) -> None:
        """Send now if this connection receives from the kernel, else once it does: a
        client's request whose relay lost the gateway (its execution queue waits for it)."""
        if self._ws is not None and self._nudged.is_set():
            self.send(channel, msg)
        else:
            self._deferred.append((channel, msg))

    def request(self, channel: str, msg: dict[str, Any]) -> asyncio.Future[list[bytes]]:
        """Send a request; the future resolves with its reply's JSON parts [header, parent,
        metadata, content], or fails with ConnectionError when the connection drops first."""
        msg_id = msg["header"]["msg_id"]
        future: asyncio.Future[list[bytes]] = asyncio.get_running_loop().create_future()
        self.send(channel, msg)
        self._pending[msg_id] = future
        future.add_done_callback(lambda _: self._pending.pop(msg_id, None))
        future.add_done_callback(retrieved)  # failed when nobody waits any more: no noise
        return future

    @property
    def session(self) -> Session:
        """Builds the messages given to `send`."""
        return self._session

    def close(self) -> None:
        """Stop for good (the kernel is gone, or the server stops)."""
        self._closed = True
        self._receiving.set()  # release anything waiting for it
        for task in (self._task, self._checking, self._nudging):
            if task is not None and not task.done():
                task.cancel()
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()
        self._fail_pending()

    def _fail_pending(self) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(ConnectionError("the gateway connection closed"))
        self._pending.clear()

    async def wait_closed(self) -> None:
        """Wait for the background task to end (after `close`)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    # -- connection loop ---------------------------------------------------------------------

    def _request(self) -> HTTPRequest:
        client = GatewayClient.instance()
        url = url_path_join(
            client.ws_url or "", client.kernels_endpoint, url_escape(self.kernel_id), "channels"
        )
        url += f"?session_id={url_escape(self._session.session)}"
        return HTTPRequest(url, **client.load_connection_args())

    async def _run(self) -> None:
        attempt = 0  # failed attempts in a row
        outage = False
        while not self._closed:
            self.attempts += 1
            try:
                ws = await websocket_connect(self._request(), subprotocols=[V1_SUBPROTOCOL])
            except asyncio.CancelledError:
                raise
            except HTTPClientError as error:
                if error.code == 404:
                    self._gone("the gateway no longer knows it")
                    return
                failure: str = str(error)
            except Exception as error:
                failure = f"{type(error).__name__}: {error}"
            else:
                if self._closed:
                    ws.close()
                    return
                self._opened(ws, outage)
                attempt, outage = 0, False
                await self._read(ws)
                if self._closed:
                    return
                self._dropped()
                if self._renew:  # not an outage: connect again at once
                    self._renew = False
                    continue
                failure = "the websocket closed"
            if not outage:
                outage = True
                self._log.warning(
                    "lost the gateway connection of kernel %s (%s); reconnecting with backoff",
                    self.kernel_id,
                    failure,
                )
            else:
                self._log.debug("gateway reconnect failed: %s", failure)
            client = GatewayClient.instance()
            low = max(0.05, float(client.gateway_retry_interval))
            high = max(low, float(client.gateway_retry_interval_max))
            await asyncio.sleep(backoff_delay(attempt, low, high))  # backoff, not a sync
            attempt += 1

    def _opened(self, ws: WebSocketClientConnection, after_outage: bool) -> None:
        self._ws = ws
        self._v1 = ws.selected_subprotocol == V1_SUBPROTOCOL
        self.connects += 1
        if self._tcp_nodelay and ws.protocol is not None and ws.protocol.stream is not None:
            ws.protocol.set_nodelay(True)  # small control/shell messages: no Nagle stall
        if after_outage:
            self._log.info("gateway connection of kernel %s is back", self.kernel_id)
            # cells sent while it was away ran unseen too
            self._suspects = list(dict.fromkeys([*self._suspects, *self._mark_unfinished()]))
        self._nudges.clear()
        self._nudged = asyncio.Event()
        self._nudging = asyncio.ensure_future(self._nudge(ws, self._nudged))

    def _dropped(self) -> None:
        """The connection closed under us: unfinished cells may lose messages."""
        self._ws = None
        self._probe = None
        self._nudges.clear()
        self._fail_pending()
        self._suspects = list(dict.fromkeys([*self._suspects, *self._mark_unfinished()]))

    async def _read(self, ws: WebSocketClientConnection) -> None:
        while True:
            try:
                frame = await ws.read_message()
            except asyncio.CancelledError:
                raise
            except Exception:
                return
            if frame is None:
                return
            try:
                self._dispatch(frame)
            except Exception:
                self._log.exception("failed to record a gateway message")

    async def _nudge(self, ws: WebSocketClientConnection, nudged: asyncio.Event) -> None:
        """Send kernel_info_request on control until iopub answers one: the gateway's side
        of a new websocket may take a moment to receive, and its answer also proves the
        kernel is there. Then, after an outage, send the shell probe."""
        for sent in range(NUDGE_LIMIT):
            if self._ws is not ws or self._closed:
                return
            if sent == RENEW_AFTER_NUDGES and self._renewals > 0:
                self._renewals -= 1
                self._log.debug("gateway kernel %s: no answer since its restart", self.kernel_id)
                self._reconnect()
                return
            msg = self._session.msg("kernel_info_request", {})
            self._nudges.add(msg["header"]["msg_id"])
            try:
                self.send("control", msg)
            except ConnectionError:
                return
            try:
                await asyncio.wait_for(nudged.wait(), NUDGE_INTERVAL)
            except asyncio.TimeoutError:
                continue
            return
        self._nudges.clear()
        self._log.debug("gateway kernel %s answers no nudge", self.kernel_id)

    def _dispatch(self, frame: str | bytes) -> None:
        parsed = (
            message_from_v1(frame)
            if self._v1 and isinstance(frame, bytes)
            else message_from_legacy(frame)
        )
        if parsed is None:
            return
        channel, msg = parsed
        if channel != "iopub":
            self._replied(channel, msg, frame)
            return
        parent = msg.parent_msg_id
        if parent is not None and parent in self._nudges:
            self._nudges.clear()
            self._renewals = 0
            self._receiving.set()
            self._nudged.set()
            self._after_nudge()
            return
        msg_type = msg.msg_type
        if msg_type == "status" and parent is None:
            self._kernel_status(msg.content.get("execution_state"))
        elif msg_type == "shutdown_reply" and not msg.content.get("restart"):
            self._check_gone()
        probe = self._probe
        if probe is not None and parent == probe.msg_id and msg_type == "status":
            self._probe = None
            self._on_caught_up(probe.suspects)
            return
        self._on_message(msg)

    def _replied(self, channel: str, msg: KernelMessage, frame: str | bytes) -> None:
        parent = msg.parent_msg_id
        future = None if parent is None else self._pending.pop(parent, None)
        if future is not None and not future.done():
            future.set_result(json_parts(msg, frame, self._v1))
        elif self._on_reply is not None and parent not in self._nudges:
            self._on_reply(channel, msg)

    def _after_nudge(self) -> None:
        """Receiving again: after an outage, ask which unfinished cells have ended; then send
        what waited for this connection."""
        self._probe_suspects()
        deferred, self._deferred = self._deferred, []
        for index, (channel, msg) in enumerate(deferred):
            try:
                self.send(channel, msg)
            except ConnectionError:
                self._deferred = deferred[index:] + self._deferred
                return

    def _probe_suspects(self) -> None:
        if not self._suspects:
            return
        suspects, self._suspects = self._suspects, []
        msg = self._session.msg("kernel_info_request", {})
        self._probe = _Probe(msg["header"]["msg_id"], suspects)
        try:
            self.send("shell", msg)
        except ConnectionError:
            self._probe, self._suspects = None, suspects

    def _kernel_status(self, state: Any) -> None:
        """Statuses without a parent come from the gateway itself (jupyter_server's restart
        notices): `restarting` when its restarter replaced a dead kernel process, `dead`
        when that failed."""
        if state == "restarting":
            self._log.info("the gateway restarted kernel %s", self.kernel_id)
            self._on_restarting()
            self._renewals = RENEWALS
            self._reconnect()
        elif state == "dead":
            self._check_gone()

    def _reconnect(self) -> None:
        """Open a fresh websocket: the gateway's restarter may have given the new kernel
        process new ports (it does when a kernel dies soon after starting), and a
        jupyter_server connection keeps the ZMQ streams it opened on the old ones; a new
        connection opens them on the current ports. Its restart notice comes before the
        restart, so a fresh websocket that hears nothing is renewed again (RENEWALS)."""
        if self._ws is not None:
            self._renew = True
            self._ws.close()

    # -- a kernel that may be gone -------------------------------------------------------------

    def _gone(self, why: str) -> None:
        self._log.info("gateway kernel %s is gone (%s)", self.kernel_id, why)
        self._closed = True
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.close()
        self._receiving.set()
        self._on_gone()

    def _check_gone(self) -> None:
        if self._checking is None or self._checking.done():
            self._checking = asyncio.ensure_future(self._ask_until_gone())

    async def _ask_until_gone(self) -> None:
        """The kernel shut down: the gateway keeps our websocket open with nothing behind it,
        so ask the gateway, a few times with backoff, until it says 404. A kernel it keeps
        (its restarter brought the process back) stays recorded."""
        client = GatewayClient.instance()
        url = url_path_join(client.url or "", client.kernels_endpoint, url_escape(self.kernel_id))
        low = max(0.05, float(client.gateway_retry_interval) / 2)
        for attempt in range(GONE_CHECKS):
            await asyncio.sleep(backoff_delay(attempt, low, 8.0))  # backoff, not a sync
            if self._closed:
                return
            try:
                await gateway_request(url, method="GET")
            except web.HTTPError as error:
                # gateway_request also says 404 for a DNS failure: only the gateway's counts
                if error.status_code == 404 and isinstance(error.__cause__, HTTPClientError):
                    self._gone("shut down")
                    return
            except Exception as error:  # the gateway is away: the reconnect loop handles it
                self._log.debug("gateway kernel check failed: %s", error)
                return
