"""KernelMessage: lazy decoding of ZMQ multipart messages, and frames that are not Jupyter's."""

from __future__ import annotations

from jupyter_client.session import Session

from jupyter_sidecar_ext.protocol.message import DELIM, KernelMessage

session = Session(key=b"")


def test_kernel_message_decodes_lazily() -> None:
    msg = session.msg(
        "stream",
        content={"name": "stdout", "text": "hi"},
        parent=session.msg("execute_request", content={"code": "1 + 1"}),
    )
    parts = session.serialize(msg, ident=[b"topic"])
    decoded = KernelMessage.from_zmq(parts)
    assert decoded is not None
    assert decoded.msg_type == "stream"
    assert decoded.parent_msg_type == "execute_request"
    assert decoded.parent_msg_id == msg["parent_header"]["msg_id"]
    assert decoded.content == {"name": "stdout", "text": "hi"}


def test_kernel_message_rejects_non_jupyter_frames() -> None:
    assert KernelMessage.from_zmq([b"no delimiter"]) is None
    assert KernelMessage.from_zmq([DELIM, b"sig"]) is None
