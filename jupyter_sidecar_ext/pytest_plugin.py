"""Pytest fixtures for testing the sidecar against a real server and real kernels.

Fixtures are prefixed `sc_`. They build on pytest-jupyter's `jp_*` fixtures; the test
suite's conftest enables the extension through `jp_server_config`.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_binary_message,
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from nbformat.v4 import new_code_cell, new_notebook
from tornado.httpclient import HTTPClientError

from .protocol.frames import V1_SUBPROTOCOL
from .protocol.message import MESSAGE_KEYS
from .registry import SidecarRegistry
from .tap.base import SIDECAR_SETTING

# As installed: the extension enabled, nothing else (it selects its connection class).
SERVER_CONFIG: dict[str, Any] = {
    "ServerApp": {"jpserver_extensions": {"jupyter_sidecar_ext": True}}
}


# Kernel websocket frames a hostile or broken client may send: forged part counts and offsets,
# not JSON, JSON without a channel or on an unknown one (both subprotocols).
HOSTILE_FRAMES: tuple[str | bytes, ...] = (
    b"execute_request",
    (2**62).to_bytes(8, "little") + b"\x00" * 16,
    b"\x7f\xff\xff\xff" + b"\x00" * 12,
    b"",
    "not json",
    '{"channel": "shell"}',
    '{"header": {"msg_type": "execute_request"}, "channel": "nowhere"}',
    "[]",
)


# A first cell with a stream and a result; `hello_outputs()` is what the sidecar records for it.
HELLO_CODE = "print('hello')\n6 * 7"


def hello_outputs() -> list[dict[str, Any]]:
    return [
        {"output_type": "stream", "name": "stdout", "text": "hello\n"},
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "data": {"text/plain": "42"},
            "metadata": {},
        },
    ]


def assert_valid_cells(cells: list[dict[str, Any]]) -> None:
    """Recorded cells (REST form) make an nbformat-valid notebook."""
    nbformat.validate(
        new_notebook(
            cells=[
                new_code_cell(
                    c["source"], outputs=c["outputs"], execution_count=c["execution_count"]
                )
                for c in cells
            ]
        )
    )


def blocking_cell(flag: Path, announce: bool = False, then: str = "") -> str:
    """Code that keeps the kernel busy until the test creates `flag` (the test decides when
    it ends, no timing); with `announce` it first prints 'started' (see
    `KernelWebsocketClient.until_output`), and `then` runs once released."""
    # one write, so one stream message: print's separate '\n' can leave on its own under load
    started = "print('started\\n', end='', flush=True)\n" if announce else ""
    wait = f"while not os.path.exists({str(flag)!r}):\n    time.sleep(0.01)\n"
    return f"import os, time\n{started}{wait}{then}"


def _own_socket_inodes() -> set[str]:
    inodes: set[str] = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def established_connections_to(port: int) -> int:
    """This process's TCP connections to `port` (the server runs in the test process; other
    processes' connections, whose ephemeral ports may happen to equal it, do not count)."""
    own = _own_socket_inodes()
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == port and fields[3] == "01" and fields[9] in own:
                count += 1
    return count


class KernelWebsocketClient:
    """A small JupyterLab-like kernel websocket client speaking either subprotocol."""

    def __init__(self, ws: Any, v1: bool) -> None:
        self.ws = ws
        self.v1 = v1
        self.session = Session(key=b"", username="test")
        self.received: list[dict[str, Any]] = []

    def _encode(self, msg: dict[str, Any], channel: str) -> str | bytes:
        if self.v1:
            frame: bytes = serialize_msg_to_ws_v1(msg, channel, self.session.pack)
            return frame
        return json.dumps({**msg, "channel": channel}, default=json_default)

    async def send(
        self,
        msg_type: str,
        content: dict[str, Any],
        channel: str = "shell",
        metadata: dict[str, Any] | None = None,
    ) -> str:
        msg = self.session.msg(msg_type, content=content, metadata=metadata or {})
        await self.ws.write_message(self._encode(msg, channel), binary=self.v1)
        return str(msg["header"]["msg_id"])

    async def execute(self, code: str, cell_id: str | None = None, **content: Any) -> str:
        """Send an execute_request as JupyterLab does (cellId in metadata when given)."""
        body = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
            **content,
        }
        metadata: dict[str, Any] = {"cellId": cell_id, "deletedCells": [], "recordTiming": False}
        return await self.send("execute_request", body, metadata=metadata if cell_id else {})

    async def receive(self, timeout: float = 30.0) -> dict[str, Any] | None:
        """The next message (with its channel), or None when the socket closed."""
        frame = await asyncio.wait_for(self.ws.read_message(), timeout)
        if frame is None:
            return None
        if self.v1:
            channel, parts = deserialize_msg_from_ws_v1(frame)
            msg = {key: json.loads(part) for key, part in zip(MESSAGE_KEYS, parts, strict=False)}
            msg["channel"] = channel
        elif isinstance(frame, bytes):
            msg = deserialize_binary_message(frame)
        else:
            msg = json.loads(frame)
        self.received.append(msg)
        return msg

    async def until_output(self, msg_id: str) -> list[dict[str, Any]]:
        """Messages until the first stream output of `msg_id` (e.g. an announcing
        `blocking_cell`: it runs user code then, so an interrupt cannot lose its reply)."""
        seen = []
        while True:
            msg = await self.receive()
            assert msg is not None, "websocket closed"
            seen.append(msg)
            parent = msg.get("parent_header", {}).get("msg_id")
            if msg["header"]["msg_type"] == "stream" and parent == msg_id:
                return seen

    async def collect(self, msg_id: str, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Messages answering `msg_id` until both its reply and its idle arrived."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        replies: list[dict[str, Any]] = []
        got_reply = got_idle = False
        while not (got_reply and got_idle):
            msg = await self.receive(max(0.01, deadline - loop.time()))
            if msg is None:
                raise ConnectionError("websocket closed while waiting for a reply")
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            replies.append(msg)
            msg_type = msg["header"]["msg_type"]
            if msg_type.endswith("_reply"):
                got_reply = True
            elif msg_type == "status" and msg["content"].get("execution_state") == "idle":
                got_idle = True
        return replies

    def close(self) -> None:
        self.ws.close()


ConnectFactory = Callable[..., Awaitable[KernelWebsocketClient]]


@pytest.fixture
def sc_registry(jp_serverapp: Any) -> SidecarRegistry:
    """The running extension's registry of kernel sidecars."""
    registry: SidecarRegistry = jp_serverapp.web_app.settings[SIDECAR_SETTING]
    return registry


@pytest.fixture
def sc_start_kernel(jp_fetch: Any) -> Callable[..., Awaitable[str]]:
    """Start a real ipykernel through the REST API; returns its id. With `path`, start it
    as JupyterLab does for a notebook: through a session for that path."""

    async def start(name: str = "python3", path: str | None = None) -> str:
        if path is None:
            body = json.dumps({"name": name})
            response = await jp_fetch("api", "kernels", method="POST", body=body)
            return str(json.loads(response.body)["id"])
        body = json.dumps({"path": path, "type": "notebook", "kernel": {"name": name}})
        response = await jp_fetch("api", "sessions", method="POST", body=body)
        return str(json.loads(response.body)["kernel"]["id"])

    return start


@pytest.fixture
def sc_connect(jp_ws_fetch: Any) -> Iterator[ConnectFactory]:
    """Open kernel websockets (`protocol="v1"` or `"legacy"`); closed after the test."""
    clients: list[KernelWebsocketClient] = []

    async def connect(
        kernel_id: str, protocol: str = "v1", session_id: str | None = None
    ) -> KernelWebsocketClient:
        v1 = protocol == "v1"
        params = {"session_id": session_id or uuid.uuid4().hex}
        kwargs: dict[str, Any] = {"subprotocols": [V1_SUBPROTOCOL]} if v1 else {}
        ws = await jp_ws_fetch("api", "kernels", kernel_id, "channels", params=params, **kwargs)
        client = KernelWebsocketClient(ws, v1)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        client.close()


ExecuteFactory = Callable[..., Awaitable[dict[str, Any]]]
ExecuteErrorFactory = Callable[[str, str | dict[str, Any]], Awaitable[tuple[int, str]]]


@pytest.fixture
def sc_execute(jp_fetch: Any) -> ExecuteFactory:
    """`POST /api/sidecar/kernels/{id}/execute` with the given body fields; its JSON answer
    (200 expected)."""

    async def execute(kernel_id: str, **body: Any) -> dict[str, Any]:
        response = await jp_fetch(
            "api", "sidecar", "kernels", kernel_id, "execute", method="POST",
            body=json.dumps(body),
        )  # fmt: skip
        assert response.code == 200
        result: dict[str, Any] = json.loads(response.body)
        return result

    return execute


@pytest.fixture
def sc_execute_error(jp_fetch: Any) -> ExecuteErrorFactory:
    """The same request expected to fail (a body given as text is sent as is): its status
    and JSON `message`."""

    async def execute_error(kernel_id: str, body: str | dict[str, Any]) -> tuple[int, str]:
        raw = body if isinstance(body, str) else json.dumps(body)
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                "api", "sidecar", "kernels", kernel_id, "execute", method="POST", body=raw
            )
        assert info.value.response is not None
        message: str = json.loads(info.value.response.body)["message"]
        return info.value.code, message

    return execute_error


@pytest.fixture
def sc_wait_until() -> Callable[..., Awaitable[None]]:
    """Wait for a condition on server state, bounded by a timeout (polls the condition)."""

    async def wait_until(
        condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition"
    ) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            if loop.time() > deadline:
                raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(0.01)

    return wait_until


FINAL_STATUSES = frozenset({"ok", "error", "aborted"})


@pytest.fixture
def sc_cell_finished(
    sc_registry: SidecarRegistry, sc_wait_until: Callable[..., Awaitable[None]]
) -> Callable[..., Awaitable[dict[str, Any]]]:
    """Wait until a cell of a kernel's shadow notebook has ended (or reached one of the
    given statuses), with its outputs (its idle seen: the reply can come before them), and
    return its REST form."""

    async def finished(
        kernel_id: str,
        cell_id: str,
        statuses: frozenset[str] = FINAL_STATUSES,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        def done() -> bool:
            sidecar = sc_registry.find(kernel_id)
            cell = None if sidecar is None else sidecar.notebook.get(cell_id)
            if cell is None or cell.status not in statuses or cell.ended is None:
                return False
            return cell.idle or cell.status == "aborted"  # aborted unsent: no idle comes

        await sc_wait_until(done, timeout=timeout, what=f"cell {cell_id} to finish")
        sidecar = sc_registry.find(kernel_id)
        assert sidecar is not None
        cell = sidecar.notebook.get(cell_id)
        assert cell is not None
        return cell.to_dict()

    return finished
