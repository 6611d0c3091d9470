"""Kernel websocket frames: the two subprotocols' framing, checked before it is trusted,
and the few reads the tap needs (is it an execute_request, a shell reply header).

Hostile or truncated frames must not be trusted: a forged offset count would make a naive
parser allocate without bound.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from .message import MESSAGE_KEYS

V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
MAX_V1_PARTS = 1024  # channel + header, parent, metadata, content + buffers


def split_v1_frame(ws_msg: bytes) -> tuple[bytes, list[bytes]] | None:
    """Split a `v1.kernel.websocket.jupyter.org` frame into (channel, parts), or None when
    its offset table is not consistent (hostile or truncated frames must not be trusted:
    a forged offset count would make a naive parser allocate without bound)."""
    if not isinstance(ws_msg, bytes) or len(ws_msg) < 8:
        return None
    count = int.from_bytes(ws_msg[:8], "little")
    if not 3 <= count <= MAX_V1_PARTS or 8 * (count + 1) > len(ws_msg):
        return None
    offsets = [int.from_bytes(ws_msg[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    if offsets[0] != 8 * (count + 1) or offsets[-1] > len(ws_msg):
        return None
    if any(later < earlier for earlier, later in itertools.pairwise(offsets)):
        return None
    parts = [ws_msg[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    return ws_msg[offsets[0] : offsets[1]], parts


def split_legacy_binary_frame(ws_msg: bytes) -> list[bytes] | None:
    """Split a legacy-protocol binary frame (JSON message + buffers) into its parts, or None
    when its offset table is inconsistent (the server's own parser trusts the count)."""
    if len(ws_msg) < 8:
        return None
    count = int.from_bytes(ws_msg[:4], "big")
    if not 1 <= count <= MAX_V1_PARTS or 4 * (count + 1) > len(ws_msg):
        return None
    offsets = [int.from_bytes(ws_msg[4 * (i + 1) : 4 * (i + 2)], "big") for i in range(count)]
    offsets.append(len(ws_msg))
    if offsets[0] != 4 * (count + 1) or any(b < a for a, b in itertools.pairwise(offsets)):
        return None
    return [ws_msg[start:stop] for start, stop in itertools.pairwise(offsets)]


def is_well_formed(ws_msg: str | bytes, v1: bool) -> bool:
    """Whether a client frame is structurally sound enough to hand to the server's parser."""
    if v1:
        return isinstance(ws_msg, bytes) and split_v1_frame(ws_msg) is not None
    return isinstance(ws_msg, str) or split_legacy_binary_frame(ws_msg) is not None


def execute_request_from_ws(ws_msg: str | bytes, v1: bool) -> tuple[str, str, str | None] | None:
    """Return (msg_id, code, cellId) when a client->kernel websocket frame is an
    execute_request on the shell channel, else None. Never raises: malformed frames are
    left to the server's own handling."""
    try:
        if v1:
            if not isinstance(ws_msg, bytes) or b"execute_request" not in ws_msg:
                return None
            split = split_v1_frame(ws_msg)
            if split is None or split[0] != b"shell" or len(split[1]) < 4:
                return None
            header = json.loads(split[1][0])
            if header.get("msg_type") != "execute_request":
                return None
            metadata = json.loads(split[1][2])
            content = json.loads(split[1][3])
        else:
            if isinstance(ws_msg, bytes):
                parts = split_legacy_binary_frame(ws_msg)
                if b"execute_request" not in ws_msg or parts is None:
                    return None
                msg = json.loads(parts[0])
            else:
                if "execute_request" not in ws_msg:
                    return None
                msg = json.loads(ws_msg)
            if msg.get("channel", "shell") != "shell":
                return None
            header = msg["header"]
            if header.get("msg_type") != "execute_request":
                return None
            metadata = msg.get("metadata") or {}
            content = msg.get("content") or {}
        msg_id = header["msg_id"]
        code = content.get("code", "")
        cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
        if not isinstance(msg_id, str) or not isinstance(code, str):
            return None
        return msg_id, code, cell_id if isinstance(cell_id, str) and cell_id else None
    except Exception:  # any malformed frame: not ours to judge, the server logs it
        return None


def _channel_header(ws_msg: str | bytes, v1: bool) -> tuple[str, dict[str, Any]] | None:
    """(channel, header) of a client->kernel frame, or None when it cannot be read (legacy
    frames without a channel are shell's). Decodes the frame. Never raises."""
    try:
        if v1:
            split = split_v1_frame(ws_msg) if isinstance(ws_msg, bytes) else None
            if split is None or not split[1]:
                return None
            channel: Any = split[0].decode()
            header = json.loads(split[1][0])
        else:
            if isinstance(ws_msg, bytes):
                parts = split_legacy_binary_frame(ws_msg)
                msg = None if parts is None else json.loads(parts[0])
            else:
                msg = json.loads(ws_msg)
            if not isinstance(msg, dict):
                return None
            channel, header = msg.get("channel", "shell"), msg.get("header")
        if not isinstance(channel, str) or not isinstance(header, dict):
            return None
        return channel, header
    except Exception:  # malformed: left to the server's own handling
        return None


def shell_header_from_ws(ws_msg: str | bytes, v1: bool) -> dict[str, Any] | None:
    """The header of a client->kernel frame on the shell channel, else None (other
    channels, malformed frames). Decodes the frame: call it only when it matters."""
    read = _channel_header(ws_msg, v1)
    return read[1] if read is not None and read[0] == "shell" else None


def is_input_reply(ws_msg: str | bytes, v1: bool) -> bool:
    """Whether a client->kernel frame answers an input request (stdin input_reply). A
    substring test first: only such frames are decoded. Never raises."""
    marker: str | bytes = "input_reply" if isinstance(ws_msg, str) else b"input_reply"
    if marker not in ws_msg:  # type: ignore[operator]
        return False
    read = _channel_header(ws_msg, v1)
    return read is not None and read[0] == "stdin" and read[1].get("msg_type") == "input_reply"


def parse_request(frame: str | bytes, v1: bool) -> tuple[dict[str, Any], list[bytes]] | None:
    """(message, serialized parts) of a client's execute_request frame; the message has
    header, metadata and content. None when the frame cannot be read (it is then forwarded
    as it is, unqueued: the server and the kernel judge it)."""
    try:
        if v1:
            if not isinstance(frame, bytes):
                return None
            split = split_v1_frame(frame)
            if split is None or len(split[1]) < 4:
                return None
            parts = list(split[1])
            msg = {key: json.loads(part) for key, part in zip(MESSAGE_KEYS, parts, strict=False)}
        else:
            buffers: list[bytes] = []
            if isinstance(frame, bytes):
                split_parts = split_legacy_binary_frame(frame)
                if split_parts is None:
                    return None
                msg = json.loads(split_parts[0])
                buffers = split_parts[1:]
            else:
                msg = json.loads(frame)
            parts = [json.dumps(msg.get(key) or {}).encode() for key in MESSAGE_KEYS]
            parts.extend(buffers)
        if not all(isinstance(msg.get(key), dict) for key in ("header", "content")):
            return None
        if not isinstance(msg.get("metadata"), dict):
            msg["metadata"] = {}
        return msg, parts
    except (ValueError, TypeError, AttributeError):
        return None
