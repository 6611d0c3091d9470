"""The server's iopub rate limit, as jupyter_server applies it to a client's websocket
(`ZMQChannelsWebsocketConnection._limit_rate`, same decisions, same notices), with its
window in plain attributes.

The stock check runs on every client's copy of every iopub message: it parses the header
and reads and writes a dozen traitlets even when both limits are off. Here a limit that is
off costs nothing, and one that is on costs one header parse and a few additions.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Sequence
from textwrap import dedent
from typing import Any

# Messages the window does not count (stock's exemptions).
UNCOUNTED = frozenset({"status", "comm_open", "execute_input"})
# Below this share of a limit, a stopped stream resumes.
RESUME_BELOW = 0.8

Notice = Callable[[str, dict[str, Any]], None]


def _loads(part: bytes) -> Any:
    return json.loads(part) if part else {}


class _Limit:
    """One of the two limits (messages or stream bytes per second) and whether it stopped
    the stream."""

    def __init__(self, cap: float, what: str, setting: str, unit: str) -> None:
        self.cap = cap
        self.exceeded = False
        self._what, self._setting, self._unit = what, setting, unit

    def notice(self, window: float) -> str:
        """Stock's text, word for word."""
        return dedent(
            f"""\
            IOPub {self._what} rate exceeded.
            The Jupyter server will temporarily stop sending output
            to the client in order to avoid crashing it.
            To change this limit, set the config variable
            `--ServerApp.iopub_{self._setting}_rate_limit`.

            Current values:
            ServerApp.iopub_{self._setting}_rate_limit={self.cap} ({self._unit}/sec)
            ServerApp.rate_limit_window={window} (secs)
            """
        )


class IopubRateLimit:
    """One client connection's iopub window: messages and stream bytes over the last
    `window` seconds, reset when the kernel goes idle (so "Run All" does not trip it)."""

    def __init__(
        self,
        msg_limit: float,
        data_limit: float,
        window: float,
        notice: Notice,
        warn: Callable[[str], None],
    ) -> None:
        self.window = window
        self._limits = (
            _Limit(msg_limit, "message", "msg", "msgs"),
            _Limit(data_limit, "data", "data", "bytes"),
        )
        self._notice = notice  # writes a stderr stream message to the client
        self._warn = warn  # the server's log
        self._queue: deque[tuple[float, int]] = deque()  # (when it leaves, bytes)
        self._msg_count = 0
        self._byte_count = 0

    @property
    def active(self) -> bool:
        """Whether any message can ever be dropped: with both limits off, stock only counts."""
        return any(limit.cap > 0 for limit in self._limits)

    def drops(self, parts: Sequence[bytes], now: float) -> bool:
        """Whether to hold this message back from the client. `parts` are the message's
        frames after the signature: header, parent header, metadata, content, buffers."""
        msg_type = _loads(parts[0]).get("msg_type")
        if msg_type == "status" and _loads(parts[3]).get("execution_state") == "idle":
            self._reset()
        if msg_type in UNCOUNTED:
            return False
        queue = self._queue
        while queue and now >= queue[0][0]:
            _, byte_count = queue.popleft()
            self._byte_count -= byte_count
            self._msg_count -= 1
        byte_count = sum(len(part) for part in parts) if msg_type == "stream" else 0
        self._msg_count += 1
        self._byte_count += byte_count
        queue.append((now + self.window, byte_count))
        rates = (self._msg_count / self.window, self._byte_count / self.window)
        for limit, rate in zip(self._limits, rates, strict=True):
            if limit.cap > 0 and rate > limit.cap:
                if not limit.exceeded:
                    limit.exceeded = True
                    self._notice(limit.notice(self.window), _loads(parts[1]))
            elif limit.exceeded and rate < RESUME_BELOW * limit.cap:
                limit.exceeded = False
                if not any(other.exceeded for other in self._limits):
                    self._warn("iopub messages resumed")
        if any(limit.exceeded for limit in self._limits):
            # not sent: it does not count
            self._msg_count -= 1
            self._byte_count -= byte_count
            queue.pop()
            return True
        return False

    def _reset(self) -> None:
        self._queue.clear()
        self._msg_count = self._byte_count = 0
        for limit in self._limits:
            limit.exceeded = False
