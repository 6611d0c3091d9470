"""Staleness, hidden names and edges from a history of executions (dataflow/graph.py)."""

from __future__ import annotations

from jupyter_sidecar_ext._tz import isoformat
from jupyter_sidecar_ext.dataflow.analysis import analyze
from jupyter_sidecar_ext.dataflow.graph import Execution, build, staleness


def history(*runs: tuple[str, str]) -> list[Execution]:
    """Executions of (cell id, source) in order, counted from 1."""
    return [
        Execution(cell_id, count, source, 1000.0 + count, analyze(source), seq=count)
        for count, (cell_id, source) in enumerate(runs, start=1)
    ]


def test_a_redefinition_by_another_cell_makes_readers_stale() -> None:
    runs = history(("a", "x = 1"), ("b", "y = x + 1"), ("a", "x = 2"))
    [reason] = staleness(runs)["b"]
    assert (reason.name, reason.cell_id, reason.execution_count) == ("x", "a", 3)
    assert reason.at == isoformat(1003.0) == "1970-01-01T00:16:43.000000Z"


def test_rerunning_the_reader_makes_it_current_again() -> None:
    runs = history(("a", "x = 1"), ("b", "y = x"), ("a", "x = 2"), ("b", "y = x"))
    assert staleness(runs) == {}


def test_a_cell_redefining_its_own_input_is_not_stale() -> None:
    assert staleness(history(("a", "x = 1"), ("b", "x += 1"))) == {}


def test_the_latest_redefinition_is_named() -> None:
    runs = history(("a", "x = 1"), ("b", "y = x"), ("c", "x = 2"), ("d", "x = 3"))
    assert [r.cell_id for r in staleness(runs)["b"]] == ["d"]


def test_a_mutation_counts_as_a_redefinition() -> None:
    runs = history(("a", "lst = []"), ("b", "n = len(lst)"), ("c", "lst.append(1)"))
    assert [r.name for r in staleness(runs)["b"]] == ["lst"]


def test_a_change_only_the_snapshot_shows_redefines() -> None:
    runs = history(("a", "data = [1]"), ("b", "n = len(data)"), ("c", "grow()"))
    runs[2].changed, runs[2].covers = frozenset({"data"}), 1
    [reason] = staleness(runs)["b"]
    assert (reason.name, reason.cell_id) == ("data", "c")


def test_a_snapshot_covering_several_cells_credits_the_code_first() -> None:
    """One snapshot after a, b, c: `x` changed, but a's code defines it: b is not stale."""
    runs = history(("a", "x = 1"), ("b", "y = x"), ("c", "z = 3"))
    runs[2].changed, runs[2].covers = frozenset({"x", "y", "z"}), 3
    assert staleness(runs) == {}


def test_hidden_names_come_from_since_edited_cells() -> None:
    runs = history(("a", "z = 5"), ("b", "w = z"), ("a", "q = 5"))
    graph = build(runs)
    cells = {cell.id: cell for cell in graph.cells}
    assert cells["b"].hidden_names == ["z"]
    assert cells["a"].hidden_names == []


def test_hidden_names_come_from_deleted_cells() -> None:
    runs = history(("a", "z = 5"), ("b", "w = z"))
    cells = {cell.id: cell for cell in build(runs, notebook=["b"]).cells}
    assert list(cells) == ["b"] and cells["b"].hidden_names == ["z"]


def test_builtins_and_undefined_names_are_not_hidden() -> None:
    [cell] = build(history(("a", "print(len(undefined_yet))"))).cells
    assert cell.hidden_names == [] and cell.uses == ["undefined_yet"]


def test_edges_follow_what_fed_each_cell() -> None:
    runs = history(("a", "x = 1"), ("b", "y = 2"), ("c", "z = x + y"), ("d", "print(z, x)"))
    edges = {(a, b): names for a, b, names in build(runs).edges}
    assert edges == {("a", "c"): ["x"], ("b", "c"): ["y"], ("c", "d"): ["z"], ("a", "d"): ["x"]}


def test_unanalysed_and_broken_cells() -> None:
    runs = history(("a", "def f(:"))
    runs.append(Execution("b", 2, "x = 1", "t2"))  # not analysed yet
    cells = {cell.id: cell for cell in build(runs).cells}
    assert cells["a"].error is not None and cells["a"].analysed
    assert not cells["b"].analysed and cells["b"].defines == []
