"""The lines of a streamed HTTP execution waiting for a client that may read slowly, or not.

The run is recorded whatever the client does (the shadow model is fed before any watcher);
this is only what the client is still owed. Lines wait here, encoded, until the writer takes
them, and the writer takes the next batch only once the socket took the previous one, so a
client that stops reading stops the taking. What waits is bounded like a cell's outputs
(`max_output_bytes`): past the bound the oldest waiting lines are dropped, and the client
gets, where they were, one `truncated` line saying how many messages and bytes it lost. Lines
put with `keep` (the execute_reply and the result) are never dropped.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import Any

from jupyter_client.jsonutil import json_default

BATCH_BYTES = 64 * 1024  # lines handed to the socket at once (then wait for it to take them)


def encode_line(item: dict[str, Any]) -> bytes:
    return (json.dumps(item, default=json_default) + "\n").encode()  # ASCII: ensure_ascii


def truncated_line(messages: int, size: int) -> dict[str, Any]:
    return {
        "type": "truncated",
        "dropped_messages": messages,
        "dropped_bytes": size,
        "message": f"The client read too slowly: {messages:,} messages ({size:,} bytes) were "
        "dropped here. The recorded cell has the outputs (truncated as max_output_bytes says).",
    }


class LineOutbox:
    """Encoded NDJSON lines owed to one client: at most `limit` bytes of droppable ones, plus
    the kept ones (the reply and the result, which the cell's budget bounds)."""

    def __init__(self, limit: int) -> None:
        self._limit = max(limit, BATCH_BYTES)
        self._lines: deque[tuple[bytes, bool]] = deque()
        self._size = 0  # bytes waiting
        self._droppable = 0  # bytes waiting that may be dropped (the bound is on them)
        self._dropped_messages = 0  # dropped since the last line taken
        self._dropped_bytes = 0
        self._closed = False  # no more lines will come
        self._abandoned = False  # the client is gone: lines are not kept any more
        self._ready = asyncio.Event()
        self.put_count = 0

    @property
    def waiting_bytes(self) -> int:
        return self._size

    def put(self, item: dict[str, Any], keep: bool = False) -> None:
        """Owe the client this line; past the bound, drop the oldest that are not kept."""
        if self._closed or self._abandoned:
            return
        data = encode_line(item)
        self.put_count += 1
        self._lines.append((data, keep))
        self._size += len(data)
        if not keep:
            self._droppable += len(data)
            if self._droppable > self._limit:
                self._drop_oldest()
        self._ready.set()

    def close(self) -> None:
        """No more lines: the writer ends once it has taken what waits."""
        self._closed = True
        self._ready.set()

    def abandon(self) -> None:
        """The client went away: forget what waits and what would come."""
        self._abandoned = self._closed = True
        self._lines.clear()
        self._size = self._droppable = 0
        self._ready.set()

    async def take(self) -> bytes | None:
        """The next batch of lines (about BATCH_BYTES), or None once closed and emptied."""
        while not self._lines and not self._dropped_messages:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        parts: list[bytes] = []
        taken = 0
        if self._dropped_messages:
            parts.append(encode_line(truncated_line(self._dropped_messages, self._dropped_bytes)))
            self._dropped_messages = self._dropped_bytes = 0
        while self._lines and taken < BATCH_BYTES:
            data, keep = self._lines.popleft()
            parts.append(data)
            taken += len(data)
            if not keep:
                self._droppable -= len(data)
        self._size -= taken
        return b"".join(parts)

    def _drop_oldest(self) -> None:
        # Kept lines come last (the reply and the result), so the dropped ones are always
        # the front of what waits, and the truncated line goes right where they were.
        lines = self._lines
        while self._droppable > self._limit and lines and not lines[0][1]:
            data, _ = lines.popleft()
            self._size -= len(data)
            self._droppable -= len(data)
            self._dropped_messages += 1
            self._dropped_bytes += len(data)
