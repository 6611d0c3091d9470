"""The sidecar's own shell channel holds its requests until its stdin socket has finished its
handshake: a kernel's stdin ROUTER drops an input_request for a peer it does not know yet.

The kernel's ports here are ROUTER sockets the test binds (over ipc, so one can appear later):
what is checked is the order of connections and sends, which a real kernel cannot be made to
show on demand. The end-to-end case, with a real kernel, is
tests/dataflow/test_dataflow_service.py::test_a_planned_cell_waits_for_input.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio
from jupyter_client.session import Session
from zmq.eventloop.zmqstream import ZMQStream

from jupyter_sidecar_ext.channels.zmq import shell as shell_module
from jupyter_sidecar_ext.channels.zmq.shell import SidecarShell


class KernelPorts:
    """What SidecarShell asks of a kernel manager: its session, and DEALERs to two ports."""

    def __init__(self, context: zmq.Context[Any], shell_url: str, stdin_url: str) -> None:
        self.session = Session(key=b"secret")
        self._context = context
        self._urls = {"shell": shell_url, "stdin": stdin_url}

    def connect_shell(self, identity: bytes) -> ZMQStream:
        return self._connect("shell", identity)

    def connect_stdin(self, identity: bytes) -> ZMQStream:
        return self._connect("stdin", identity)

    def _connect(self, channel: str, identity: bytes) -> ZMQStream:
        socket = self._context.socket(zmq.DEALER)
        socket.linger = 0
        socket.identity = identity
        socket.connect(self._urls[channel])
        return ZMQStream(socket)


@pytest.fixture
def ports(tmp_path: Path) -> Any:
    sync = zmq.Context()
    context = zmq.asyncio.Context.shadow(sync)
    urls = {channel: f"ipc://{tmp_path / channel}" for channel in ("shell", "stdin")}
    routers: list[zmq.asyncio.Socket] = []

    def bind(channel: str) -> zmq.asyncio.Socket:
        router = context.socket(zmq.ROUTER)
        router.linger = 0
        router.router_mandatory = True  # an unknown peer raises instead of a silent drop
        router.bind(urls[channel])
        routers.append(router)
        return router

    yield KernelPorts(sync, urls["shell"], urls["stdin"]), bind
    for router in routers:
        router.close()
    sync.destroy(linger=0)


def open_shell(kernel: KernelPorts) -> SidecarShell:
    return SidecarShell(kernel, lambda msg: None, logging.getLogger("test"))


def msg_id_of(shell: SidecarShell, frames: list[bytes]) -> str:
    """The msg_id of what a ROUTER received (its peer's identity frame taken off)."""
    session = shell.session
    return str(session.deserialize(session.feed_identities(frames)[1])["msg_id"])


async def test_requests_wait_for_the_stdin_handshake(ports: Any) -> None:
    """The stdin port appears only after the request was sent: the kernel still gets the
    request only once it can route an input_request back to the sender."""
    kernel, bind = ports
    shell_router = bind("shell")
    shell = open_shell(kernel)
    request = shell.session.msg("execute_request", {"code": "input()", "allow_stdin": True})
    shell.send(request)
    stdin_router = bind("stdin")  # the DEALER's first attempt failed: it retries

    identity, *frames = await asyncio.wait_for(shell_router.recv_multipart(), 30)
    # Exactly what the kernel does next for input(): send to the requester's identity.
    await stdin_router.send_multipart([identity, b"input_request"])
    assert msg_id_of(shell, frames) == request["msg_id"]
    shell.close()


async def test_held_requests_go_out_in_order(ports: Any) -> None:
    kernel, bind = ports
    shell_router = bind("shell")
    shell = open_shell(kernel)
    first = shell.session.msg("execute_request", {"code": "1"})
    second = shell.session.msg("execute_request", {"code": "2"})
    shell.send(first)
    shell.send_parts(shell.session.serialize(second)[2:])  # [header, parent, metadata, content]
    bind("stdin")
    received = []
    for _ in range(2):
        _, *frames = await asyncio.wait_for(shell_router.recv_multipart(), 30)
        received.append(msg_id_of(shell, frames))
    assert received == [first["msg_id"], second["msg_id"]]
    shell.close()


async def test_an_unreachable_stdin_port_does_not_hold_requests_forever(
    ports: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shell_module, "STDIN_HANDSHAKE_WAIT", 0.1)
    kernel, bind = ports
    shell_router = bind("shell")  # stdin is never bound
    shell = open_shell(kernel)
    request = shell.session.msg("execute_request", {"code": "1"})
    shell.send(request)
    _, *frames = await asyncio.wait_for(shell_router.recv_multipart(), 30)
    assert msg_id_of(shell, frames) == request["msg_id"]
    shell.close()
