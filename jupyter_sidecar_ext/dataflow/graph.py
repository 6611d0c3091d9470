"""Staleness, hidden state and edges from a kernel's history of executions (pure).

The history is every recorded execution of the kernel's current run, in the order the kernel
ran them. A cell's latest execution is *stale* when a later execution of another cell
redefined a name it used; it *reads hidden state* when a name it used was defined by some
execution but by no cell of the current notebook (a deleted or since-edited cell).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .._tz import isoformat
from .analysis import CellNames


@dataclass
class Execution:
    """One recorded execution. `names` is None until analysed. `changed`: the names the
    variable snapshot taken after it shows changed since the previous snapshot, which covered
    the `covers` executions ending with this one (a burst of cells costs one snapshot)."""

    cell_id: str
    execution_count: int | None
    source: str
    ended: float | None  # epoch seconds; `at` formats it only when a reason is shown
    names: CellNames | None = None
    changed: frozenset[str] = field(default_factory=frozenset)
    covers: int = 0
    seq: int = 0  # its position in the kernel run, counted from 1 (tracker.py)

    @property
    def at(self) -> str | None:
        return None if self.ended is None else isoformat(self.ended)

    @property
    def static_defines(self) -> frozenset[str]:
        return self.names.defines if self.names is not None else frozenset()

    @property
    def uses(self) -> frozenset[str]:
        return self.names.uses if self.names is not None else frozenset()


def defines_of(history: Sequence[Execution]) -> list[frozenset[str]]:
    """What each execution defined: its code's definitions, plus the names its snapshot
    shows changed that no execution the snapshot covers defines in its code (`exec`,
    `globals()[...]`, a function mutating a global): those go to the last one."""
    defines = [execution.static_defines for execution in history]
    for index, execution in enumerate(history):
        if execution.changed:
            first = max(0, index - max(1, execution.covers) + 1)
            static = frozenset().union(*(e.static_defines for e in history[first : index + 1]))
            defines[index] = defines[index] | (execution.changed - static)
    return defines


@dataclass(frozen=True)
class StaleReason:
    """`name` was redefined by execution `execution_count` of `cell_id` (at `at`) after the
    stale cell ran. (An edit of the cell's source is known to its notebook, not to the server
    until a plan sends the cells: plans treat an edited cell as not current.)"""

    name: str
    cell_id: str
    execution_count: int | None
    at: str | None

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "cell_id": self.cell_id,
            "execution_count": self.execution_count,
            "at": self.at,
        }


@dataclass
class CellFlow:
    """A cell's dataflow, from its latest execution."""

    id: str
    execution_count: int | None
    source: str  # as it ran: a notebook compares it with its cell to tell an edited cell
    defines: list[str]
    uses: list[str]
    stale_because: list[StaleReason]
    hidden_names: list[str]
    analysed: bool
    error: str | None


@dataclass
class Graph:
    cells: list[CellFlow]
    edges: list[tuple[str, str, list[str]]]  # (from, to, names)

    def stale(self) -> dict[str, list[StaleReason]]:
        return {cell.id: cell.stale_because for cell in self.cells if cell.stale_because}


def latest_executions(history: Sequence[Execution]) -> dict[str, int]:
    """Each cell id's latest position in the history."""
    return {execution.cell_id: index for index, execution in enumerate(history)}


def staleness(history: Sequence[Execution]) -> dict[str, list[StaleReason]]:
    """Per cell id, the names its latest execution used that later executions of other cells
    redefined (the latest redefinition of each). One backward pass."""
    latest = latest_executions(history)
    defines = defines_of(history)
    later: dict[str, Execution] = {}
    stale: dict[str, list[StaleReason]] = {}
    for index in range(len(history) - 1, -1, -1):
        execution = history[index]
        if latest[execution.cell_id] == index:
            reasons = [
                StaleReason(name, by.cell_id, by.execution_count, by.at)
                for name in sorted(execution.uses)
                if (by := later.get(name)) is not None
            ]
            if reasons:
                stale[execution.cell_id] = reasons
        for name in defines[index]:
            later.setdefault(name, execution)
    return stale


def build(history: Sequence[Execution], notebook: Iterable[str] | None = None) -> Graph:
    """The graph of the latest execution of each cell. `notebook`: the cell ids of the
    current notebook when known (others count as deleted), else every recorded cell."""
    latest = latest_executions(history)
    defines = defines_of(history)
    current = set(latest) if notebook is None else set(notebook) & set(latest)
    defined_now: set[str] = set()
    ever_defined: set[str] = set()
    for cell_id, index in latest.items():
        if cell_id in current:
            defined_now |= defines[index]
    last_definer: dict[str, str] = {}
    edges: dict[tuple[str, str], set[str]] = {}
    for index, execution in enumerate(history):
        ever_defined |= defines[index]
        if latest[execution.cell_id] == index and execution.cell_id in current:
            for name in execution.uses:
                definer = last_definer.get(name)
                if definer is not None and definer != execution.cell_id:
                    edges.setdefault((definer, execution.cell_id), set()).add(name)
        for name in defines[index]:
            last_definer[name] = execution.cell_id
    stale = staleness(history)
    cells = []
    for cell_id, index in sorted(latest.items(), key=lambda item: item[1]):
        if cell_id not in current:
            continue
        execution = history[index]
        names = execution.names
        hidden = (execution.uses & ever_defined) - defined_now
        cells.append(
            CellFlow(
                id=cell_id,
                execution_count=execution.execution_count,
                source=execution.source,
                defines=sorted(defines[index]),
                uses=sorted(execution.uses),
                stale_because=stale.get(cell_id, []),
                hidden_names=sorted(hidden),
                analysed=names is not None,
                error=names.error if names is not None else None,
            )
        )
    return Graph(cells, [(a, b, sorted(names)) for (a, b), names in edges.items()])
