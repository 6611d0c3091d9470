"""Frames of a gateway kernel websocket, as the recorder and the relay read them, and the
recorder's reconnect backoff.

v1 frames become KernelMessage parts without any JSON decoding; legacy JSON frames, already
decoded, become a KernelMessage that serves the decoded dicts. Neither trusts its input.
"""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from jupyter_client.jsonutil import json_default

from ...protocol.frames import split_v1_frame
from ...protocol.message import DecodedMessage, KernelMessage


def message_from_v1(frame: bytes) -> tuple[str, KernelMessage] | None:
    """(channel, message) of a v1 frame; None when it is not a well-formed one. No JSON is
    decoded here: the parts become a KernelMessage (with an empty signature) as they are."""
    split = split_v1_frame(frame)
    if split is None or len(split[1]) < 4:
        return None
    channel, parts = split
    return channel.decode("ascii", "replace"), KernelMessage([b"", *parts])


def message_from_legacy(frame: str | bytes) -> tuple[str, KernelMessage] | None:
    """(channel, message) of a legacy JSON frame; None when it is not one."""
    try:
        msg = json.loads(frame)
    except ValueError:
        return None
    if not isinstance(msg, dict) or not isinstance(msg.get("header"), dict):
        return None
    return str(msg.get("channel") or "iopub"), DecodedMessage(msg)


def retrieved(future: asyncio.Future[Any]) -> None:
    """A done callback: marks a failure as seen (a failed write nobody awaits is no error)."""
    if not future.cancelled():
        future.exception()


def json_parts(msg: KernelMessage, frame: str | bytes, v1: bool) -> list[bytes]:
    """A reply's [header, parent, metadata, content] as JSON bytes (as received for v1)."""
    if v1 and isinstance(frame, bytes):
        split = split_v1_frame(frame)
        if split is not None:
            return list(split[1][:4])
    parts = (msg.header, msg.parent_header, msg.metadata, msg.content)
    return [json.dumps(part, default=json_default).encode() for part in parts]


def backoff_delay(attempt: int, low: float, high: float) -> float:
    """Seconds before reconnect attempt `attempt` (0-based): doubling from `low`, capped at
    `high`, with jitter (half to all of it) so many recorders do not retry in step."""
    base = min(high, low * 2.0 ** min(attempt, 30))
    return base * random.uniform(0.5, 1.0)  # jitter, not security
