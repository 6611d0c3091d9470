"""Kernel websockets in gateway mode (`--gateway-url`): the server's websocket-to-websocket
relay, with TCP_NODELAY on both hops.

The relay reads a frame from one websocket and writes it to the other. Stock tornado
leaves Nagle's algorithm on, so on either hop a small frame written while an earlier one
is still unacknowledged waits for the peer's delayed ACK (about 40 ms on Linux): a
tiny-cell round trip then pays that stall up to twice. Recording outputs in gateway mode is
not done here (there is no local ZMQ to subscribe to).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.gateway.connections import GatewayWebSocketConnection
from tornado.concurrent import Future
from traitlets import Bool


class SidecarGatewayConnection(GatewayWebSocketConnection):
    """The server's gateway relay, with TCP_NODELAY on the browser-facing websocket and on
    the server's client websocket to the gateway."""

    tcp_nodelay = Bool(
        True,
        config=True,
        help="Set TCP_NODELAY on kernel websockets relayed to a gateway, on both hops "
        "(browser to server, server to gateway): without it, Nagle's algorithm and delayed "
        "ACKs add tens of milliseconds to every small message round trip.",
    )

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

    def _gateway_nodelay(self, future: Future[Any]) -> None:
        """Tornado's HTTP client turns Nagle back on once it has sent the upgrade request,
        so the connected client websocket needs nodelay set explicitly."""
        if future.cancelled() or future.exception() is not None:
            return  # the server logs the failed connection
        protocol = getattr(future.result(), "protocol", None)
        if protocol is not None and protocol.stream is not None:
            protocol.set_nodelay(True)
