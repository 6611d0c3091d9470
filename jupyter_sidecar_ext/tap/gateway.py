"""Kernel websockets in gateway mode (`--gateway-url`): the server's websocket-to-websocket
relay, with TCP_NODELAY on both hops, tapped for the sidecar.

Nodelay because stock tornado leaves Nagle's algorithm on, so a tiny-cell round trip can wait
for a delayed ACK on each hop (README "Performance"). Outputs are recorded by the kernel's own
recorder (channels/gateway/recorder.py), which sees iopub only; the relay gives it what only
the client's connection sees: execute_requests (msg_id, code, JupyterLab's cellId), registered
before they are forwarded, and execute_replies, peeked at after. Execute_requests wait in the
kernel's execution queue and are relayed one at a time, as for local kernels (local.py). Frames
are never re-encoded, and kernel->client frames never delayed.

Unlike local kernels, the websocket is accepted without waiting for the recorder (its link to
the gateway may be down or slow while the relay's is fine): until it receives, the relays
record iopub (channels/gateway/channels.py). When the relay's own link to the gateway fails
or drops, the client's websocket is closed with 1013 at once, which JupyterLab shows as
"connecting" and retries; a new websocket is refused (503) while the gateway stays away.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_client.jsonutil import json_default
from jupyter_server.gateway.connections import GatewayWebSocketConnection
from jupyter_server.gateway.gateway_client import GatewayClient, gateway_request
from jupyter_server.utils import url_path_join
from tornado import web
from tornado.concurrent import Future
from tornado.escape import url_escape
from tornado.websocket import WebSocketClosedError
from traitlets import Bool

from ..protocol.frames import execute_request_from_ws, is_input_reply, parse_request
from ..protocol.message import DecodedMessage
from .base import SIDECAR_SETTING, SidecarTap

# An execute_reply's msg_type sits in its header, near the start of the legacy JSON frame:
# only that much of each gateway->client frame is searched before anything is decoded.
REPLY_SCAN = 2048
# The close code a client gets when the relay loses the gateway: "try again later" (JupyterLab
# reconnects after any close but 1000 and 1001).
GATEWAY_LOST = 1013


class SidecarGatewayConnection(SidecarTap, GatewayWebSocketConnection):
    """The server's gateway relay, with TCP_NODELAY on the browser-facing websocket and on
    the server's client websocket to the gateway."""

    tcp_nodelay = Bool(
        True,
        config=True,
        help="Set TCP_NODELAY on kernel websockets relayed to a gateway, on both hops "
        "(browser to server, server to gateway): without it, Nagle's algorithm and delayed "
        "ACKs add tens of milliseconds to every small message round trip.",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._last_request: str | None = None  # msg_id of the last execute_request registered
        # execute_requests released by the queue before the gateway hop was open: the server
        # hands them back to `handle_incoming_message`, which must relay them this time
        self._released: set[str] = set()
        self._attached: Any = None  # the kernel's channels, while this relay records for them

    async def connect(self) -> None:
        """Open the gateway hop as the server does; set nodelay once each side is open.

        The browser-facing websocket is open by now (the handler calls this from `open`).
        The gateway hop opens later: the server's `connect` only starts it, so nodelay is
        set from a callback on its future, registered after the server's own (which
        stores the connection), and run before any message is relayed on it. Reconnects
        after a lost gateway connection call this again, so they get nodelay too.
        """
        if self.tcp_nodelay and self.websocket_handler.ws_connection is not None:
            self.websocket_handler.set_nodelay(True)
        await super().connect()
        if self.tcp_nodelay and self.ws_future is not None:
            self.ws_future.add_done_callback(self._gateway_nodelay)
        sidecar = self._sidecar
        if self._attached is None and sidecar is not None:
            self._attached = sidecar.channels
            self._attached.relay_attached()
        self._count_open()

    def disconnect(self) -> Any:  # the server's is sync (its base declares a coroutine)
        try:
            super().disconnect()
        finally:
            self._count_closed()
        attached, self._attached = self._attached, None
        if attached is not None:
            attached.relay_detached()

    def _gateway_nodelay(self, future: Future[Any]) -> None:
        """Tornado's HTTP client turns Nagle back on once it has sent the upgrade request,
        so the connected client websocket needs nodelay set explicitly."""
        if future.cancelled() or future.exception() is not None:
            return  # the server logs the failed connection
        protocol = getattr(future.result(), "protocol", None)
        if protocol is not None and protocol.stream is not None:
            protocol.set_nodelay(True)

    async def prepare(self) -> None:
        """Adopt the kernel's sidecar without waiting for its recorder (stock accepts at
        once); refuse the websocket while a relay of this kernel found the gateway away and
        it still does not answer (accepting it would close it at once, and JupyterLab would
        retry without backoff)."""
        registry = self.websocket_handler.settings.get(SIDECAR_SETTING)
        sidecar = None if registry is None else registry.adopt(self.kernel_id)
        channels = None if sidecar is None else sidecar.channels
        if channels is not None and getattr(channels, "gateway_lost", False):
            await self._check_gateway()
            channels.gateway_lost = False

    async def _check_gateway(self) -> None:
        client = GatewayClient.instance()
        url = url_path_join(client.url or "", client.kernels_endpoint, url_escape(self.kernel_id))
        try:
            await gateway_request(url, method="GET")
        except web.HTTPError as error:
            if error.status_code != 404:  # a kernel gone is the relay's and recorder's business
                raise web.HTTPError(503, "The gateway is unreachable") from None

    async def _read_messages(self) -> None:
        """Relay gateway->client frames as the server does; when the gateway hop fails to
        open or drops, close the client's websocket at once instead of leaving it silent
        while the server retries (see the module doc)."""
        ws = self.ws
        while ws is not None and not self.disconnected:
            try:
                message = await ws.read_message()
            except Exception as error:
                self.log.debug("jupyter_sidecar_ext: gateway hop read failed: %s", error)
                message = None
            if message is None:
                break
            if isinstance(message, bytes):
                message = message.decode("utf8")
            self.handle_outgoing_message(message)
        if not self.disconnected:
            self._gateway_lost()

    def _gateway_lost(self) -> None:
        self.log.warning(
            "jupyter_sidecar_ext: lost the gateway for kernel %s; its client is told to reconnect",
            self.kernel_id,
        )
        if self._attached is not None:
            self._attached.gateway_lost = True
        self.websocket_handler.close(GATEWAY_LOST, "lost the connection to the gateway")

    def handle_incoming_message(self, message: str) -> None:
        """client->gateway: register execute_requests and hand them to the kernel's execution
        queue, which relays them in turn (`send_to_kernel`); relay the rest as the server
        does. The server calls this again for a message that arrived before the gateway hop
        was open: it is registered and queued once."""
        request = execute_request_from_ws(message, False)
        if request is not None:
            msg_id = request[0]
            if msg_id in self._released:  # the queue's turn came while the hop was opening
                self._released.discard(msg_id)
                self.send_to_kernel(message)  # the hop is open, or failed, by now
                return
            if msg_id != self._last_request:
                self._last_request = msg_id
                sidecar = self._sidecar
                if sidecar is not None:
                    sidecar.on_execute_request(*request)
                    if sidecar.executor.hold(self, message, False):
                        return  # the execution queue sends it in turn (execution/queue.py)
        else:
            sidecar = self._sidecar
            if sidecar is not None and sidecar.executor.follow(self, message, False):
                return  # another shell request, kept in order behind waiting executions
            if sidecar is not None and is_input_reply(message, False):
                sidecar.on_input_reply()  # other pages stop offering the input box
        super().handle_incoming_message(message)

    def send_to_kernel(self, message: str) -> None:
        """Relay a client frame the execution queue released, as the server relays it. When
        the gateway hop has failed or closed, the server would drop it, and the queue would
        wait for its answer forever: it goes on the sidecar's own websocket to the gateway
        instead (the kernel runs it; the reply reaches the sidecar, not this client)."""
        if not self._hop_usable():
            sidecar = self._sidecar
            parsed = parse_request(message, False)
            if sidecar is not None and parsed is not None:
                sidecar.executor.shell.send_parts(parsed[1])
                return
        if self.ws is None:  # the server hands it back to `handle_incoming_message` once open
            request = execute_request_from_ws(message, False)
            if request is not None:
                self._released.add(request[0])
        super().handle_incoming_message(message)

    def _hop_usable(self) -> bool:
        """Whether the gateway hop is open or still opening."""
        ws, future = self.ws, self.ws_future
        if self.disconnected:
            return False
        if ws is not None:
            return ws.protocol is not None and not ws.protocol.is_closing()
        if future is None or not future.done():
            return True
        return not future.cancelled() and future.exception() is None

    def send_to_client(self, msg: dict[str, Any], channel: str) -> None:
        """Write a message the server made (an aborted reply for a dequeued request) to this
        client, framed as the relay's frames are (legacy JSON)."""
        try:
            self.websocket_handler.write_message(
                json.dumps({**msg, "channel": channel}, default=json_default)
            )
        except WebSocketClosedError:
            self.log.debug("jupyter_sidecar_ext: client gone before a server message")

    def handle_outgoing_message(self, incoming_msg: str, *args: Any) -> None:
        """gateway->client: relay first, untouched; then record execute_replies and
        input_requests, and iopub while the kernel's recorder does not receive."""
        super().handle_outgoing_message(incoming_msg, *args)
        if not isinstance(incoming_msg, str):
            return
        sidecar = self._sidecar
        if sidecar is None:
            return
        channels = sidecar.channels
        relaying_iopub = not getattr(channels, "live", True)
        head = incoming_msg[:REPLY_SCAN]
        if not relaying_iopub and "execute_reply" not in head and "input_request" not in head:
            return
        try:
            msg = json.loads(incoming_msg)
        except ValueError:
            return
        if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
            return
        channel = msg.get("channel")
        if relaying_iopub and channel == "iopub":
            channels.relayed_iopub(DecodedMessage(msg))
            return
        decoded = DecodedMessage(msg)
        if channel == "shell" and decoded.msg_type == "execute_reply":
            sidecar.on_shell_reply(decoded)
        elif channel == "stdin" and decoded.msg_type == "input_request":
            sidecar.on_input_request(decoded)
