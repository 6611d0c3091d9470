"""Reading every kernel's iopub within a bounded share of each event-loop turn.

Each kernel's subscription reads batches of a few milliseconds (iopub.py); with many busy
kernels, one loop turn would still read a batch from each of them before the loop looks at
anything else, and a REST request waits that many batches per turn it needs. One `ReadTurns`
per server lets the subscriptions read, in turn, for `budget` seconds of a loop turn in all;
the others wait for the next turn, first in line before newly readable ones. A reader alone
reads at once, as before: nothing is added to a quiet kernel's path.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable

# Seconds of a loop turn that iopub reading may take across all kernels (one kernel's batch
# is sized to about 2 ms: iopub.PASS_BUDGET).
TURN_BUDGET = 0.004

# Reads a batch; returns whether more may be waiting.
Reader = Callable[[], bool]


class ReadTurns:
    """Readers run at once while the turn's budget lasts, else in order in later turns."""

    def __init__(
        self, budget: float = TURN_BUDGET, clock: Callable[[], float] = time.perf_counter
    ) -> None:
        self.budget = budget
        self._clock = clock
        self._spent = 0.0  # in this loop turn
        self._waiting: deque[Reader] = deque()
        self._new_turn_due = False

    def request(self, reader: Reader) -> None:
        """`reader` has something to read: now if the turn allows, else in a later turn."""
        if self._waiting or self._spent >= self.budget:
            self._wait(reader)
            return
        if self._run(reader):
            self._wait(reader)

    def cancel(self, reader: Reader) -> None:
        """Forget a waiting reader (its socket closed)."""
        if reader in self._waiting:
            self._waiting.remove(reader)

    def _run(self, reader: Reader) -> bool:
        started = self._clock()
        try:
            return reader()
        finally:
            self._spent += self._clock() - started
            self._schedule_new_turn()

    def _wait(self, reader: Reader) -> None:
        if reader not in self._waiting:
            self._waiting.append(reader)
        self._schedule_new_turn()

    def _schedule_new_turn(self) -> None:
        if not self._new_turn_due:
            self._new_turn_due = True
            asyncio.get_running_loop().call_soon(self._new_turn)

    def _new_turn(self) -> None:
        """The next loop turn: its budget goes to the waiting readers first, in order; one
        that still has more goes to the back of the line."""
        self._new_turn_due = False
        self._spent = 0.0
        for _ in range(len(self._waiting)):
            if self._spent >= self.budget or not self._waiting:
                break
            reader = self._waiting.popleft()
            if self._run(reader):
                self._wait(reader)
        if self._waiting:
            self._schedule_new_turn()
