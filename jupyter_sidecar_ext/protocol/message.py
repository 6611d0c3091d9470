"""KernelMessage: a kernel message decoded lazily, on demand, from its ZMQ parts.

The kernel->client path forwards frames untouched; readers decode only the small JSON
parts they need, when they need them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

DELIM = b"<IDS|MSG>"
# The JSON parts of a message, in wire order (after the signature; buffers follow).
MESSAGE_KEYS = ("header", "parent_header", "metadata", "content")


def _loads(part: bytes | memoryview | str) -> Any:
    return json.loads(bytes(part) if isinstance(part, memoryview) else part)


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


class KernelMessage:
    """A kernel message decoded on demand from its ZMQ parts (after the delimiter)."""

    __slots__ = ("_content", "_header", "_parent", "_parts")

    def __init__(self, parts: Sequence[bytes]) -> None:
        # parts: [signature, header, parent_header, metadata, content, *buffers]
        self._parts = parts
        self._header: dict[str, Any] | None = None
        self._parent: dict[str, Any] | None = None
        self._content: dict[str, Any] | None = None

    @classmethod
    def from_zmq(cls, msg_list: Sequence[bytes]) -> KernelMessage | None:
        """Split identities off a raw ZMQ message; None when it is not a Jupyter message."""
        try:
            idx = msg_list.index(DELIM)
        except ValueError:
            return None
        parts = msg_list[idx + 1 :]
        return cls(parts) if len(parts) >= 5 else None

    @classmethod
    def from_dict(cls, msg: Mapping[str, Any]) -> KernelMessage:
        """A message a jupyter_client channel already decoded, encoded back (its dates as
        ISO 8601 text, as on the wire)."""
        parts = [b""] + [
            json.dumps(msg.get(key) or {}, default=_json_default).encode() for key in MESSAGE_KEYS
        ]
        return cls(parts)

    @property
    def header(self) -> dict[str, Any]:
        if self._header is None:
            self._header = _loads(self._parts[1])
        return self._header

    @property
    def parent_header(self) -> dict[str, Any]:
        if self._parent is None:
            self._parent = _loads(self._parts[2]) or {}
        return self._parent

    @property
    def content(self) -> dict[str, Any]:
        if self._content is None:
            self._content = _loads(self._parts[4])
        return self._content

    @property
    def metadata(self) -> dict[str, Any]:
        """Decoded on each call (rarely needed: HTTP execution streams)."""
        value = _loads(self._parts[3])
        return value if isinstance(value, dict) else {}

    @property
    def msg_type(self) -> str:
        return str(self.header.get("msg_type", ""))

    @property
    def parent_msg_id(self) -> str | None:
        value = self.parent_header.get("msg_id")
        return value if isinstance(value, str) else None

    @property
    def parent_msg_type(self) -> str | None:
        value = self.parent_header.get("msg_type")
        return value if isinstance(value, str) else None


class DecodedMessage(KernelMessage):
    """A KernelMessage built from an already decoded legacy-protocol message."""

    __slots__ = ("_metadata",)

    def __init__(self, msg: dict[str, Any]) -> None:
        super().__init__((b"", b"{}", b"{}", b"{}", b"{}"))
        self._header = _as_dict(msg.get("header"))
        self._parent = _as_dict(msg.get("parent_header"))
        self._content = _as_dict(msg.get("content"))
        self._metadata = _as_dict(msg.get("metadata"))

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
