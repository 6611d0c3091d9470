"""Kernel message numbers: spotting iopub messages lost inside the kernel.

A kernel's PUB socket drops messages past its high-water mark when the server is starved of
CPU, while the cell's reply and idle still arrive, so ordering alone cannot tell. Message ids
can: jupyter_client's Session numbers every message it builds (`{session}_{pid}_{n}`), on every
channel. Between a request's busy and idle, the numbers seen neither on iopub nor among the
kernel's other messages the server counts (replies, input requests) were lost, beyond a small
allowance (replies not seen or still on their way, numbers sent out of order by its threads).
"""

from __future__ import annotations

from dataclasses import dataclass

# Unseen numbers per execution that are not taken as a loss.
ALLOWANCE = 16
# Executions followed at once (more only when idles are lost, which ordering reports).
MAX_OPEN = 64


@dataclass(frozen=True)
class _Span:
    first: int  # the number of the execution's busy
    iopub_seen: int  # iopub messages seen up to and including it
    others_seen: int  # the kernel's other messages seen by then


class MessageNumbers:
    """Counts one kernel's numbered messages; `idle` tells how many of an execution's were
    lost."""

    def __init__(self, allowance: int = ALLOWANCE) -> None:
        self._allowance = allowance
        self._prefix = ""
        self._iopub_seen = 0
        self._others_seen = 0
        self._open: dict[str, _Span] = {}

    def note_other(self) -> None:
        """The kernel sent a message on another channel (a reply, an input request)."""
        self._others_seen += 1

    def count(self) -> None:
        """An iopub message arrived (any: only statuses need their number read)."""
        self._iopub_seen += 1

    def number(self, msg_id: object) -> int | None:
        """The number in a counted message's id; None when it carries none."""
        if not isinstance(msg_id, str):
            return None
        prefix, _, number = msg_id.rpartition("_")
        if not prefix or not number.isdigit():
            return None
        if prefix != self._prefix:  # another kernel process (a restart) or session
            self._prefix = prefix
            self._open.clear()
        return int(number)

    def see(self, msg_id: object) -> int | None:
        """Count a message and read its number."""
        self.count()
        return self.number(msg_id)

    def busy(self, parent_id: str, number: int | None) -> None:
        """An execution started (its busy was just seen)."""
        if number is None:
            return
        self._open[parent_id] = _Span(number, self._iopub_seen, self._others_seen)
        while len(self._open) > MAX_OPEN:
            del self._open[next(iter(self._open))]

    def forget(self, parent_id: str) -> None:
        self._open.pop(parent_id, None)

    def idle(self, parent_id: str, number: int | None) -> int:
        """An execution ended (its idle was just seen): how many of the kernel's messages
        in between are missing beyond what is accounted for; 0 when nothing was lost."""
        span = self._open.pop(parent_id, None)
        if span is None or number is None or number < span.first:
            return 0
        numbered = number - span.first + 1
        seen = self._iopub_seen - span.iopub_seen + 1
        others = self._others_seen - span.others_seen
        return max(0, numbered - seen - others - self._allowance)
