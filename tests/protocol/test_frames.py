"""Frame decoding for the websocket tap, without a server: both subprotocols, bad frames."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

from jupyter_sidecar_ext.protocol.frames import execute_request_from_ws, is_input_reply
from jupyter_sidecar_ext.pytest_plugin import HOSTILE_FRAMES

session = Session(key=b"")


def execute_request(cell_id: str | None = "cell-1", code: str = "1 + 1") -> dict[str, Any]:
    metadata = {"cellId": cell_id} if cell_id else {}
    return session.msg("execute_request", content={"code": code}, metadata=metadata)


def v1_frame(msg: dict[str, Any], channel: str = "shell") -> bytes:
    frame: bytes = serialize_msg_to_ws_v1(msg, channel, session.pack)
    return frame


def legacy_frame(msg: dict[str, Any], channel: str = "shell") -> str:
    return json.dumps({**msg, "channel": channel}, default=str)


def test_v1_execute_request() -> None:
    msg = execute_request()
    assert execute_request_from_ws(v1_frame(msg), v1=True) == (
        msg["header"]["msg_id"],
        "1 + 1",
        "cell-1",
    )


def test_legacy_execute_request() -> None:
    msg = execute_request(code="print('x')")
    assert execute_request_from_ws(legacy_frame(msg), v1=False) == (
        msg["header"]["msg_id"],
        "print('x')",
        "cell-1",
    )


def test_legacy_binary_execute_request() -> None:
    msg = execute_request()
    msg["channel"] = "shell"
    msg["buffers"] = [b"\x00\x01"]
    frame = serialize_binary_message(json.loads(json.dumps(msg, default=str)) | {"buffers": [b"x"]})
    assert execute_request_from_ws(frame, v1=False) == (msg["header"]["msg_id"], "1 + 1", "cell-1")


def test_request_without_cell_id() -> None:
    msg = execute_request(cell_id=None)
    assert execute_request_from_ws(v1_frame(msg), v1=True) == (
        msg["header"]["msg_id"],
        "1 + 1",
        None,
    )


@pytest.mark.parametrize("v1", [True, False])
def test_other_messages_are_not_requests(v1: bool) -> None:
    msg = session.msg("kernel_info_request", content={})
    frame = v1_frame(msg) if v1 else legacy_frame(msg)
    assert execute_request_from_ws(frame, v1=v1) is None
    on_control = (
        v1_frame(execute_request(), "control") if v1 else legacy_frame(execute_request(), "control")
    )
    assert execute_request_from_ws(on_control, v1=v1) is None


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"execute_request",
        b"\xff" * 64 + b"execute_request",
        (3).to_bytes(8, "little") + b"\x00" * 24 + b"execute_request",
        "execute_request",
        '{"header": "execute_request"}',
        '{"channel": "shell", "header": {"msg_type": "execute_request"}}',
        '{"header": {"msg_type": "execute_request", "msg_id": 5}, "content": {"code": 1}}',
        "[1, 2, 3] execute_request",
    ],
)
def test_malformed_frames_never_raise(frame: str | bytes) -> None:
    assert execute_request_from_ws(frame, v1=isinstance(frame, bytes)) is None
    assert execute_request_from_ws(frame, v1=not isinstance(frame, bytes)) is None


@pytest.mark.parametrize("frame", HOSTILE_FRAMES)
def test_hostile_frames_are_not_well_formed_v1(frame: str | bytes) -> None:
    from jupyter_sidecar_ext.protocol.frames import is_well_formed

    assert not is_well_formed(frame, v1=True)
    if isinstance(frame, bytes):
        assert not is_well_formed(frame, v1=False)


def test_an_input_reply_is_told_on_the_stdin_channel_only() -> None:
    reply = session.msg("input_reply", content={"value": "input_reply"})
    assert is_input_reply(v1_frame(reply, "stdin"), v1=True)
    assert is_input_reply(legacy_frame(reply, "stdin"), v1=False)
    assert not is_input_reply(v1_frame(reply, "shell"), v1=True)
    assert not is_input_reply(legacy_frame(reply, "shell"), v1=False)
    code = execute_request(code="'input_reply'")  # the word in a cell's code is not enough
    assert not is_input_reply(v1_frame(code), v1=True)
    assert not is_input_reply(legacy_frame(code), v1=False)
    for frame in (b"input_reply", "input_reply", '{"channel": "stdin"} input_reply'):
        assert not is_input_reply(frame, v1=isinstance(frame, bytes))
        assert not is_input_reply(frame, v1=not isinstance(frame, bytes))
