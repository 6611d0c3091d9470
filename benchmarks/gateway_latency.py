#!/usr/bin/env python
"""Tiny-cell round trip in gateway mode (`--gateway-url`), with and without TCP_NODELAY.

Starts real Kernel Gateways and jupyter_server subprocesses (loopback only, temporary
Jupyter dirs, random tokens), one kernel per server, and measures, in interleaved rounds,
the time from sending a tiny execute_request over the kernel websocket (legacy protocol:
the gateway relay forces it; the client sets TCP_NODELAY, as browsers do) until both its
execute_reply and its idle status arrived. Flavours:

  stock        extension off: jupyter_server's GatewayWebSocketConnection
  ours         extension on: SidecarGatewayConnection, TCP_NODELAY on both server hops
  ours-off     extension on, SidecarGatewayConnection.tcp_nodelay=False (ours, Nagle on)
  ours+gw      as ours, and the gateway's own kernel websockets with TCP_NODELAY too
               (its KernelGatewayApp.kernel_websocket_connection_class set to
               SidecarKernelConnection, which sets it on connect): the third hop's share
  stock+gw     extension off, that same gateway: what the server's own hops add

Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/gateway_latency.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from common import (
    KernelGateway,
    Server,
    connect_kernel,
    execute_content,
    machine_info,
    percentile,
    scratch_dir,
)
from jupyter_client.session import Session
from tornado.websocket import WebSocketClientConnection

STOCK_GATEWAY_CLASS = "jupyter_server.gateway.connections.GatewayWebSocketConnection"
NODELAY_KERNEL_CLASS = "jupyter_sidecar_ext.tap.local.SidecarKernelConnection"
WEBSOCKET_GATEWAY = "--JupyterWebsocketPersonality.list_kernels=True"


class LegacyChannel:
    """A kernel websocket speaking the legacy JSON protocol, one request at a time."""

    def __init__(self, conn: WebSocketClientConnection, session: Session) -> None:
        self.conn = conn
        self.session = session

    @classmethod
    async def open(cls, server: Server, kernel_id: str, timeout: float) -> LegacyChannel:
        session = Session(key=b"", username="benchmark")
        conn = await connect_kernel(server, kernel_id, session.session, timeout, v1=False)
        return cls(conn, session)

    async def round_trip(self, code: str, timeout: float) -> float:
        # Content only, without JupyterLab metadata (cellId), as earlier runs sent it.
        msg = self.session.msg("execute_request", content=execute_content(code))
        msg_id = msg["header"]["msg_id"]
        frame = json.dumps({**msg, "channel": "shell"}, default=str)
        t0 = time.perf_counter()
        await self.conn.write_message(frame)
        reply = idle = False
        async with asyncio.timeout(timeout):
            while not (reply and idle):
                raw = await self.conn.read_message()
                if raw is None:
                    raise ConnectionError("kernel websocket closed")
                got = json.loads(raw)
                if got.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                msg_type = got["header"]["msg_type"]
                reply = reply or msg_type == "execute_reply"
                idle = idle or (
                    msg_type == "status" and got["content"]["execution_state"] == "idle"
                )
        return time.perf_counter() - t0


async def run(args: argparse.Namespace, base: Path) -> int:
    print("\n".join(machine_info()))
    stock_gw = KernelGateway(base / "gateway", [WEBSOCKET_GATEWAY])
    nodelay_class = f"--KernelGatewayApp.kernel_websocket_connection_class={NODELAY_KERNEL_CLASS}"
    nodelay_gw = KernelGateway(base / "gateway-nodelay", [WEBSOCKET_GATEWAY, nodelay_class])
    gateways = [stock_gw, nodelay_gw]
    flavours: list[tuple[str, bool, KernelGateway, list[str]]] = [
        ("stock", False, stock_gw, []),
        ("ours", True, stock_gw, []),
        ("ours-off", True, stock_gw, ["--SidecarGatewayConnection.tcp_nodelay=False"]),
        ("ours+gw", True, nodelay_gw, []),
        ("stock+gw", False, nodelay_gw, []),
    ]
    servers: list[Server] = []
    try:
        for gateway in gateways:
            await gateway.start(args.start_timeout)
        channels: dict[str, LegacyChannel] = {}
        for name, extension, gateway, extra in flavours:
            server = Server(
                base / name,
                extra_args=[
                    f"--gateway-url={gateway.base_url}",
                    f"--GatewayClient.auth_token={gateway.token}",
                    *extra,
                ],
                extension=extension,
                name=name,
                # the server's default in gateway mode; ours replaces it
                connection_class=STOCK_GATEWAY_CLASS,
            )
            servers.append(server)
            await server.start(args.start_timeout)
            expected = 200 if extension else 404
            if await server.status_of("/api/sidecar") != expected:
                raise RuntimeError(f"{name}: the extension is not as configured")
            kernel = await server.api("POST", "/api/kernels", {"name": "python3"}, timeout=60)
            channels[name] = await LegacyChannel.open(server, kernel["id"], args.timeout)
            for _ in range(args.warmup):
                await channels[name].round_trip(args.code, args.timeout)
        p50: dict[str, list[float]] = {name: [] for name in channels}
        p99: dict[str, list[float]] = {name: [] for name in channels}
        names = list(channels)
        for round_no in range(args.rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for name in order:
                times = [
                    await channels[name].round_trip(args.code, args.timeout)
                    for _ in range(args.count)
                ]
                p50[name].append(percentile(times, 50))
                p99[name].append(percentile(times, 99))
        print(f"\n{args.count} sequential {args.code!r} cells x {args.rounds} rounds (medians)")
        stock = statistics.median(p50["stock"])
        for name in names:
            mid = statistics.median(p50[name])
            tail = statistics.median(p99[name])
            rounds = " ".join(f"{v * 1000:.1f}" for v in p50[name])
            print(
                f"  {name:9} p50 {mid * 1000:7.2f} ms   p99 {tail * 1000:7.2f} ms   "
                f"p50 vs stock {mid / stock:5.2f}x   rounds p50 ms {rounds}"
            )
        for channel in channels.values():
            channel.conn.close()
        return 0
    finally:
        for server in servers:
            await server.stop()
        for gateway in gateways:
            await gateway.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--count", type=int, default=200, help="cells per round and flavour")
    parser.add_argument("--code", default="1", help="the tiny cell (default: 1)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=30.0, help="per request")
    parser.add_argument("--start-timeout", type=float, default=60.0)
    parser.add_argument("--max-seconds", type=float, default=900.0, help="whole run")
    args = parser.parse_args(argv)
    with scratch_dir("gateway_latency_") as base:
        return asyncio.run(asyncio.wait_for(run(args, base), args.max_seconds))


if __name__ == "__main__":
    sys.exit(main())
