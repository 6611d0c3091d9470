"""The incremental tracker agrees with the staleness recomputed from the whole history."""

from __future__ import annotations

import random

from jupyter_sidecar_ext.dataflow.analysis import analyze
from jupyter_sidecar_ext.dataflow.graph import Execution, StaleReason, staleness
from jupyter_sidecar_ext.dataflow.tracker import StaleTracker, revealed

NAMES = ["a", "b", "c", "d", "df"]
CELLS = ["c1", "c2", "c3", "c4", "c5", "c6"]


def random_source(rng: random.Random) -> str:
    lines = []
    for _ in range(rng.randint(1, 3)):
        target, *reads = rng.sample(NAMES, rng.randint(1, 3))
        kind = rng.random()
        if kind < 0.2:
            lines.append(f"{target}.append({', '.join(reads) or 1})")
        elif kind < 0.3:
            lines.append(f"print({', '.join(reads) or target})")
        else:
            lines.append(f"{target} = {' + '.join(reads) or '1'}")
    return "\n".join(lines)


def random_history(seed: int) -> list[Execution]:
    rng = random.Random(seed)
    history = []
    for seq in range(1, rng.randint(2, 40)):
        source = random_source(rng)
        execution = Execution(rng.choice(CELLS), seq, source, float(seq), analyze(source), seq=seq)
        if rng.random() < 0.3:  # a snapshot after it shows hidden changes
            execution.changed = frozenset(rng.sample(NAMES, rng.randint(1, 2)))
            execution.covers = rng.randint(1, 3)
        history.append(execution)
    return history


def as_dicts(tracker: StaleTracker) -> dict[str, list[StaleReason]]:
    return {cell: tracker.reasons(cell) for cell in tracker.stale_cells()}


def test_replay_agrees_with_the_full_recomputation() -> None:
    for seed in range(300):
        history = random_history(seed)
        assert as_dicts(StaleTracker.replay(history)) == staleness(history), seed


def test_snapshots_arriving_late_agree_too() -> None:
    """As the service sees it: executions one by one, each snapshot a few executions later."""
    for seed in range(300):
        history = random_history(seed)
        tracker = StaleTracker()
        late: list[int] = []
        for index, execution in enumerate(history):
            tracker.executed(execution)
            if execution.changed:
                late.append(index)
            if late and random.Random(seed + index).random() < 0.5:
                snapshot = late.pop(0)
                tracker.redefined(history[snapshot], revealed(history, snapshot))
        for snapshot in late:
            tracker.redefined(history[snapshot], revealed(history, snapshot))
        assert as_dicts(tracker) == staleness(history), seed


def test_changed_cells_are_reported() -> None:
    tracker = StaleTracker()
    a1 = Execution("a", 1, "x = 1", None, analyze("x = 1"), seq=1)
    b = Execution("b", 2, "y = x", None, analyze("y = x"), seq=2)
    a2 = Execution("a", 3, "x = 2", None, analyze("x = 2"), seq=3)
    b2 = Execution("b", 4, "y = x", None, analyze("y = x"), seq=4)
    assert tracker.executed(a1) == set() and tracker.executed(b) == set()
    assert tracker.executed(a2) == {"b"}
    assert [r.name for r in tracker.reasons("b")] == ["x"]
    assert tracker.executed(b2) == {"b"} and tracker.reasons("b") == []
