"""Pytest fixtures for gateway-mode tests: a real `jupyter kernelgateway` and server config.

Registered next to `jupyter_sidecar_ext.pytest_plugin` (see tests/conftest.py); `sc_mode`
runs a test against a local server and a gateway-mode one.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jupyter_server.gateway.gateway_client import GatewayClient
from traitlets.config import Config

from .pytest_plugin import SERVER_CONFIG

# -- the gateway process ----------------------------------------------------------------------

GATEWAY_START_TIMEOUT = 60.0


@dataclass(frozen=True)
class KernelGateway:
    """A running `jupyter kernelgateway`: where it listens, its token, and its log."""

    url: str
    auth_token: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_for_gateway(gateway: KernelGateway, process: subprocess.Popen[bytes]) -> None:
    """Poll the gateway's `/api` until it answers; fail with its log if it exits or is
    not up within GATEWAY_START_TIMEOUT."""
    request = urllib.request.Request(
        f"{gateway.url}/api", headers={"Authorization": f"token {gateway.auth_token}"}
    )
    deadline = time.monotonic() + GATEWAY_START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"kernel gateway exited ({process.returncode}):\n{gateway.log()}")
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass  # not listening yet
        if time.monotonic() > deadline:
            pytest.fail(f"kernel gateway not up after {GATEWAY_START_TIMEOUT}s:\n{gateway.log()}")
        time.sleep(0.1)  # polling interval, not synchronization


@pytest.fixture(scope="session")
def sc_kernel_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KernelGateway]:
    """A real `jupyter kernelgateway` on 127.0.0.1 (a free port, a random token, temporary
    Jupyter dirs) for the whole session: the remote-kernel engine of gateway-mode tests."""
    gateway = RestartableKernelGateway(tmp_path_factory.mktemp("kernel_gateway"))
    gateway.start()
    try:
        yield gateway.info
    finally:
        gateway.stop()  # the gateway shuts its kernels down on SIGTERM


@pytest.fixture(scope="module")
def sc_gateway_client_reset() -> Iterator[None]:
    """Forget the server's GatewayClient singleton after a module of gateway-mode tests.

    ServerApp takes `GatewayClient.instance()`, which outlives the app: left configured,
    every later test server would run in gateway mode. It must outlive each test's server
    cleanup (which shuts kernels down through the gateway), hence module scope."""
    yield
    GatewayClient.clear_instance()


@pytest.fixture
def sc_gateway_server_config(
    sc_kernel_gateway: KernelGateway, sc_gateway_client_reset: None
) -> Config:
    """Server config for gateway mode (`--gateway-url`) against `sc_kernel_gateway`, the
    extension enabled as installed. Use it as the module's `jp_server_config`."""
    return _gateway_config(sc_kernel_gateway)


def _gateway_config(gateway: KernelGateway) -> Config:
    GatewayClient.clear_instance()  # a fresh one, configured by this test's server
    config = Config(copy.deepcopy(SERVER_CONFIG))
    config.GatewayClient.url = gateway.url
    config.GatewayClient.auth_token = gateway.auth_token
    return config


class RestartableKernelGateway:
    """A `jupyter kernelgateway` process, which a test may kill and start again on the same
    port (what a gateway outage looks like to the server)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.info = KernelGateway(
            f"http://127.0.0.1:{_free_port()}", secrets.token_hex(16), root / "gateway.log"
        )
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return self.info.url

    @property
    def auth_token(self) -> str:
        return self.info.auth_token

    def start(self) -> None:
        """Start it (again) and wait until it answers.

        `list_kernels` is on because jupyter_server lists the gateway's kernels to follow
        them. The token travels in the environment, not on the command line."""
        port = self.url.rsplit(":", 1)[1]
        env = {
            **os.environ,
            "KG_AUTH_TOKEN": self.auth_token,
            "JUPYTER_CONFIG_DIR": str(self.root / "config"),
            "JUPYTER_DATA_DIR": str(self.root / "data"),
            "JUPYTER_RUNTIME_DIR": str(self.root / "runtime"),
            "IPYTHONDIR": str(self.root / "ipython"),
        }
        command = [
            sys.executable,
            "-m",
            "kernel_gateway",
            "--KernelGatewayApp.ip=127.0.0.1",
            f"--KernelGatewayApp.port={port}",
            "--KernelGatewayApp.port_retries=0",
            "--JupyterWebsocketPersonality.list_kernels=True",
        ]
        with self.info.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                command, cwd=self.root, env=env, stdout=log, stderr=log
            )
        _wait_for_gateway(self.info, self._process)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no goodbye to anyone (its kernels notice their parent is gone and exit)."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(timeout=20)
            self._process = None

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._process = None


@pytest.fixture(scope="module")
def sc_restartable_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RestartableKernelGateway]:
    """A gateway of the module's own (see RestartableKernelGateway), running at the start of
    each test that uses it. Module scope: it must outlive each test's server cleanup, which
    shuts kernels down through it."""
    gateway = RestartableKernelGateway(tmp_path_factory.mktemp("restartable_gateway"))
    gateway.start()
    try:
        yield gateway
    finally:
        gateway.stop()


@pytest.fixture
def sc_restartable_gateway_config(
    sc_restartable_gateway: RestartableKernelGateway, sc_gateway_client_reset: None
) -> Config:
    """Server config for gateway mode against `sc_restartable_gateway`, with short reconnect
    backoff bounds (0.2 s to 2 s) so that outages in tests stay short."""
    if not sc_restartable_gateway.running:
        sc_restartable_gateway.start()  # an earlier test left it stopped
    config = _gateway_config(sc_restartable_gateway.info)
    config.GatewayClient.gateway_retry_interval = 0.2
    config.GatewayClient.gateway_retry_interval_max = 2.0
    return config


class HoldingProxy:
    """A TCP proxy in front of a gateway, on a thread of its own, that holds the connections
    whose request head contains `marker` (before anything reaches the gateway) until
    `release`: one kind of link to the gateway down or slow while the others work."""

    def __init__(self, upstream: str, marker: bytes) -> None:
        parts = urlsplit(upstream)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self._marker = marker.lower()
        self._loop = asyncio.new_event_loop()
        self._released = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.held = 0  # connections held so far
        self.url = ""

    def start(self) -> None:
        self._thread.start()
        server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop
        ).result(timeout=10)
        self._server = server
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    def release(self) -> None:
        self._loop.call_soon_threadsafe(self._released.set)

    def stop(self) -> None:
        async def close() -> None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._relay(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            if self._marker in head.lower():
                self.held += 1
                await self._released.wait()
            up_reader, up_writer = await asyncio.open_connection(*self._upstream)
            up_writer.write(head)
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # one side went away
        finally:
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError):
            writer.close()


# -- both modes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerMode:
    """How a test's server runs its kernels: "local" (ZMQ, the server's own kernels) or
    "gateway" (`--gateway-url` against `sc_kernel_gateway`), and the kernel websocket
    subprotocol its clients get (the gateway relay forces the legacy one)."""

    name: str
    config: Config
    protocol: str


@pytest.fixture(params=["local", "gateway"])
def sc_mode(request: pytest.FixtureRequest) -> ServerMode:
    """Runs a test twice: against a local server and a gateway-mode one (the session's one
    `jupyter kernelgateway`, started on first use). Use `sc_mode.config` as the module's
    `jp_server_config` and `sc_mode.protocol` for `sc_connect`."""
    if request.param == "gateway":
        config: Config = request.getfixturevalue("sc_gateway_server_config")
        return ServerMode("gateway", config, "legacy")
    GatewayClient.clear_instance()  # an earlier gateway-mode test's server configured it
    return ServerMode("local", Config(copy.deepcopy(SERVER_CONFIG)), "v1")
