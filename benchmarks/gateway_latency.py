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
import contextlib
import json
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from jupyter_client.session import Session
from kernel_traffic import Flavour, Server, free_port, machine_info, percentile
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

STOCK_GATEWAY_CLASS = "jupyter_server.gateway.connections.GatewayWebSocketConnection"
NODELAY_KERNEL_CLASS = "jupyter_sidecar_ext.connection.SidecarKernelConnection"


class Gateway:
    """A `jupyter kernelgateway` subprocess."""

    def __init__(self, base: Path, name: str, extra_args: Sequence[str] = ()) -> None:
        self.dir = base / name
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_args = list(extra_args)
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, timeout: float) -> None:
        self.dir.mkdir(parents=True)
        env = {
            **os.environ,
            "KG_AUTH_TOKEN": self.token,
            "JUPYTER_CONFIG_DIR": str(self.dir / "config"),
            "JUPYTER_DATA_DIR": str(self.dir / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.dir / "runtime"),
            "IPYTHONDIR": str(self.dir / "ipython"),
        }
        command = [
            sys.executable,
            "-m",
            "kernel_gateway",
            "--KernelGatewayApp.ip=127.0.0.1",
            f"--KernelGatewayApp.port={self.port}",
            "--KernelGatewayApp.port_retries=0",
            "--JupyterWebsocketPersonality.list_kernels=True",
            *self.extra_args,
        ]
        with (self.dir / "gateway.log").open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                *command,
                env=env,
                cwd=self.dir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        probe = HTTPRequest(
            f"{self.url}/api",
            headers={"Authorization": f"token {self.token}"},
            connect_timeout=2.0,
            request_timeout=2.0,
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.returncode is not None:
                raise RuntimeError(f"gateway exited: {(self.dir / 'gateway.log').read_text()}")
            try:
                await AsyncHTTPClient().fetch(probe)
                return
            except (OSError, HTTPClientError, asyncio.TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"gateway not ready in {timeout}s")
            await asyncio.sleep(0.2)  # polling interval

    async def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


class LegacyChannel:
    """A kernel websocket speaking the legacy JSON protocol, one request at a time."""

    def __init__(self, conn: WebSocketClientConnection) -> None:
        self.conn = conn
        self.session = Session(key=b"", username="benchmark")

    @classmethod
    async def open(cls, server: Server, kernel_id: str, timeout: float) -> LegacyChannel:
        session_id = secrets.token_hex(16)
        url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels"
        request = HTTPRequest(
            f"{url}?session_id={session_id}",
            headers={"Authorization": f"token {server.token}"},
            connect_timeout=timeout,
            request_timeout=timeout,
        )
        conn = await asyncio.wait_for(websocket_connect(request), timeout)
        assert conn.protocol is not None
        conn.protocol.set_nodelay(True)  # browsers set TCP_NODELAY
        return cls(conn)

    async def round_trip(self, code: str, timeout: float) -> float:
        msg = self.session.msg(
            "execute_request",
            content={
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
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
    stock_gw = Gateway(base, "gateway")
    nodelay_class = f"--KernelGatewayApp.kernel_websocket_connection_class={NODELAY_KERNEL_CLASS}"
    nodelay_gw = Gateway(base, "gateway-nodelay", [nodelay_class])
    gateways = [stock_gw, nodelay_gw]
    flavours: list[tuple[str, bool, Gateway, list[str]]] = [
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
            flavour = Flavour(
                name,
                extension,
                STOCK_GATEWAY_CLASS,  # the server's default in gateway mode; ours replaces it
                [
                    f"--gateway-url={gateway.url}",
                    f"--GatewayClient.auth_token={gateway.token}",
                    *extra,
                ],
            )
            server = Server(flavour, base, rate_limits_off=False)
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
    base = Path(tempfile.mkdtemp(prefix="gateway_latency_"))
    try:
        return asyncio.run(asyncio.wait_for(run(args, base), args.max_seconds))
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
