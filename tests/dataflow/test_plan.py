"""Plans over the notebook's cells in order (dataflow/plan.py)."""

from __future__ import annotations

import pytest

from jupyter_sidecar_ext.dataflow.plan import Notebook, PlanCell, PlanError


def notebook(*sources: str) -> Notebook:
    """Cells named c0, c1, ... in order."""
    return Notebook([PlanCell(f"c{i}", source) for i, source in enumerate(sources)])


def never_ran(cell_id: str) -> bool:
    return False


DIAMOND = ("a = 1", "b = a + 1", "c = a * 2", "d = b + c", "print('unrelated')")


def test_diamond_upstream_in_notebook_order() -> None:
    assert notebook(*DIAMOND).upstream("c3", never_ran) == ["c0", "c1", "c2", "c3"]


def test_diamond_downstream_in_notebook_order() -> None:
    assert notebook(*DIAMOND).downstream("c0") == ["c0", "c1", "c2", "c3"]
    assert notebook(*DIAMOND).downstream("c1") == ["c1", "c3"]


def test_upstream_skips_current_cells_and_what_they_needed() -> None:
    current = {"c1", "c0"}.__contains__
    assert notebook(*DIAMOND).upstream("c3", current) == ["c2", "c3"]


def test_redefinitions_resolve_by_position() -> None:
    nb = notebook("df = load()", "df = df.dropna()", "n = len(df)", "df = other()")
    assert nb.upstream("c2", never_ran) == ["c0", "c1", "c2"]
    assert nb.downstream("c0") == ["c0", "c1", "c2"]
    assert nb.downstream("c3") == ["c3"]  # nothing below reads the last df


def test_a_redefinition_in_between_cuts_the_dependency() -> None:
    nb = notebook("x = 1", "x = 2", "print(x)")
    assert nb.downstream("c0") == ["c0"]
    assert nb.upstream("c2", never_ran) == ["c1", "c2"]


def test_mutations_chain_downstream() -> None:
    nb = notebook("lst = []", "lst.append(1)", "print(lst)")
    assert nb.downstream("c0") == ["c0", "c1", "c2"]


def test_cycles_follow_notebook_order() -> None:
    """c0 reads y that only c1 (below) defines: running top to bottom, c0 never sees it."""
    nb = notebook("x = y + 1", "y = x * 2")
    assert nb.upstream("c0", never_ran) == ["c0"]
    assert nb.upstream("c1", never_ran) == ["c0", "c1"]
    assert nb.downstream("c1") == ["c1"]
    assert nb.downstream("c0") == ["c0", "c1"]


def test_star_imports_may_define_anything() -> None:
    nb = notebook("from helpers import *", "x = compute()")
    assert nb.upstream("c1", never_ran) == ["c0", "c1"]


def test_an_unknown_target_is_an_error() -> None:
    with pytest.raises(PlanError, match="nope"):
        notebook("x = 1").upstream("nope", never_ran)


def test_a_500_cell_notebook() -> None:
    """A chain through every cell: all of it either way, in order."""
    sources = ["v0 = 0", *(f"v{i} = v{i - 1} + 1\nw{i} = [v{i}]" for i in range(1, 500))]
    nb = notebook(*sources)
    ids = [f"c{i}" for i in range(500)]
    assert nb.upstream("c499", never_ran) == ids
    assert nb.downstream("c0") == ids
    assert nb.downstream("c250") == ids[250:]
