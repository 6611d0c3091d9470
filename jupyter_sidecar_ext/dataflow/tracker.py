"""Staleness kept up to date one execution at a time (pure).

graph.staleness recomputes it from the whole history (about a millisecond for 500
executions); after every tiny cell that would be event-loop time taken from the next round
trip. The tracker does the same bookkeeping incrementally: who reads each name (by their
latest execution), and per stale cell the latest redefinition of each name it read. An
execution costs what its own names touch. `replay` rebuilds it from a history (after an
analysis that finished out of order); tests check it agrees with graph.staleness.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .graph import Execution, StaleReason


class StaleTracker:
    """Which cells' latest executions read a name that another cell redefined since."""

    def __init__(self) -> None:
        self._latest: dict[str, Execution] = {}
        self._readers: dict[str, set[str]] = {}
        self._stale: dict[str, dict[str, Execution]] = {}

    def executed(self, execution: Execution) -> set[str]:
        """Take in a new latest execution (analysed); returns the cell ids whose staleness
        changed."""
        cell_id = execution.cell_id
        changed = {cell_id} if self._stale.pop(cell_id, None) else set()
        previous = self._latest.get(cell_id)
        if previous is not None:
            for name in previous.uses:
                readers = self._readers.get(name)
                if readers is not None:
                    readers.discard(cell_id)
        self.redefined(execution, execution.static_defines, changed)
        self._latest[cell_id] = execution
        for name in execution.uses:
            self._readers.setdefault(name, set()).add(cell_id)
        return changed

    def redefined(
        self, by: Execution, names: Iterable[str], changed: set[str] | None = None
    ) -> set[str]:
        """`by` redefined `names` (its code, or the snapshot after it): every other cell
        whose latest execution ran before it and read one of them is stale because of it."""
        changed = set() if changed is None else changed
        for name in names:
            for reader in self._readers.get(name, ()):
                if reader == by.cell_id or self._latest[reader].seq > by.seq:
                    continue
                reasons = self._stale.setdefault(reader, {})
                known = reasons.get(name)
                if known is None or known.seq < by.seq:
                    reasons[name] = by
                    changed.add(reader)
        return changed

    def reasons(self, cell_id: str) -> list[StaleReason]:
        by_name = self._stale.get(cell_id, {})
        return [
            StaleReason(name, by.cell_id, by.execution_count, by.at)
            for name, by in sorted(by_name.items())
        ]

    def stale_cells(self) -> set[str]:
        return set(self._stale)

    @classmethod
    def replay(cls, history: Sequence[Execution]) -> StaleTracker:
        """A tracker as if `history` had been taken in one execution at a time, each
        snapshot's changes credited as graph.defines_of credits them."""
        tracker = cls()
        for index, execution in enumerate(history):
            tracker.executed(execution)
            if execution.changed:
                tracker.redefined(execution, revealed(history, index))
        return tracker


def revealed(history: Sequence[Execution], index: int) -> frozenset[str]:
    """The names the snapshot after `history[index]` shows changed that no execution it
    covers defines in its code."""
    execution = history[index]
    first = max(0, index - max(1, execution.covers) + 1)
    static = frozenset().union(*(e.static_defines for e in history[first : index + 1]))
    return execution.changed - static
