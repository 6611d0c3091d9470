"""The variables service's control channel: replies are checked, and leave nothing behind."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from jupyter_client.session import Session

from jupyter_sidecar_ext.channels.control import ControlChannel, decode_reply
from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient
from jupyter_sidecar_ext.registry import SidecarRegistry

Fetch = Callable[..., Awaitable[Any]]


def signed_reply(session: Session, n: int) -> list[bytes]:
    """A reply's parts after the delimiter, as the kernel signs them."""
    msg = session.msg("kernel_info_reply", {"status": "ok", "n": n})
    parts: list[bytes] = session.serialize(msg)
    return parts[parts.index(b"<IDS|MSG>") + 1 :]


def test_decode_reply_checks_signatures_and_remembers_none() -> None:
    session = Session(key=b"secret")
    for n in range(100):
        msg = decode_reply(session, signed_reply(session, n))
        assert msg["msg_type"] == "kernel_info_reply"
        assert msg["content"] == {"status": "ok", "n": n}
    assert len(session.digest_history) == 0

    tampered = signed_reply(session, 0)
    tampered[4] = json.dumps({"status": "ok", "n": 1}).encode()
    with pytest.raises(ValueError, match="Invalid Signature"):
        decode_reply(session, tampered)
    with pytest.raises(ValueError, match="Unsigned"):
        decode_reply(session, [b"", *tampered[1:]])


async def test_requests_leave_no_replay_history(
    jp_serverapp: Any, sc_start_kernel: Any, sc_registry: SidecarRegistry
) -> None:
    """The kernel manager's session lives as long as the kernel: a signature kept per
    reply would grow with every variables refresh."""
    kernel_id = await sc_start_kernel()
    await sc_registry.ensure(kernel_id)
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    control = ControlChannel(km, logging.getLogger(__name__))
    try:
        before = len(km.session.digest_history)
        for _ in range(20):
            reply = await control.request("kernel_info_request", {}, timeout=30.0)
            assert reply["content"]["status"] == "ok"
            assert reply["msg_type"] == "kernel_info_reply"
        assert len(km.session.digest_history) == before
    finally:
        control.close()


async def variables_at(jp_fetch: Fetch, kernel_id: str, count: int) -> dict[str, Any]:
    """The snapshot once it was taken after execution `count` (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30.0
    while True:
        response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables")
        payload: dict[str, Any] = json.loads(response.body)
        if payload["state"] == "ok" and payload["execution_count"] == count:
            return payload
        if loop.time() > deadline:
            raise TimeoutError(f"no snapshot at execution {count}: {payload}")
        await asyncio.sleep(0.05)


async def test_executions_do_not_grow_the_kernel_session(
    jp_serverapp: Any, jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client: KernelWebsocketClient = await sc_connect(kernel_id)
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    await client.collect(await client.execute("x = 0"))
    await variables_at(jp_fetch, kernel_id, 1)
    before = len(km.session.digest_history)
    for count in range(2, 12):
        await client.collect(await client.execute(f"x = {count}"))
        payload = await variables_at(jp_fetch, kernel_id, count)
        assert {v["name"]: v["value"] for v in payload["variables"]}["x"] == str(count)
    assert len(km.session.digest_history) == before
