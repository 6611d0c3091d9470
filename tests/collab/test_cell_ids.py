"""ServerExecutionCellIds: executions that jupyter-server-documents' rooms ran (recorded from
iopub under their msg_id) are matched with their cell in a real shared notebook document
(jupyter_ydoc's YNotebook on pycrdt), as the room leaves it while it runs them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from jupyter_sidecar_ext.collab.cell_ids import ServerExecutionCellIds
from jupyter_sidecar_ext.record.shadow import ShadowCell, ShadowNotebook

pytest.importorskip("jupyter_ydoc")
pytest.importorskip("pycrdt")
from jupyter_ydoc import YNotebook

BUSY = {"execution_state": "busy"}
IDLE = {"execution_state": "idle"}


@dataclass
class Sidecar:
    """The sidecar's side: its notebook record, re-keyed by `identify`."""

    path: str | None = "nb.ipynb"
    alive: bool = True
    notebook: ShadowNotebook = field(default_factory=ShadowNotebook)

    def identify(self, msg_id: str, cell_id: str) -> None:
        self.notebook.identify(msg_id, cell_id)


class Rooms:
    """jupyter-server-documents' Jupyter Collaboration API, with one room open (or none)."""

    def __init__(self, document: YNotebook, open_: bool = True) -> None:
        self.document = document
        self.open = open_
        self.fileid_manager = self
        self.yroom_manager = self

    def get_id(self, path: str) -> str:
        return f"id-of-{path}"

    def has_room(self, room_id: str) -> bool:
        return self.open and room_id == "json:notebook:id-of-nb.ipynb"

    async def get_document(self, **kwargs: Any) -> YNotebook:
        assert self.open, "a room is never opened for a lookup"
        return self.document


def document(*cells: tuple[str, str, str]) -> YNotebook:
    """Code cells (id, source, execution_state) as the room shows them."""
    notebook = YNotebook()
    notebook.set({
        "cells": [
            {"cell_type": "code", "id": cell_id, "source": source, "metadata": {},
             "outputs": [], "execution_count": None}
            for cell_id, source, _ in cells
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    })  # fmt: skip
    for ycell, (_, _, state) in zip(notebook.ycells, cells, strict=True):
        ycell["execution_state"] = state
    return notebook


def ran(sidecar: Sidecar, msg_id: str, code: str) -> ShadowCell:
    """The room's execute_request as the sidecar records it: from iopub, no cell id."""
    sidecar.notebook.handle_iopub("status", msg_id, BUSY)
    [cell] = sidecar.notebook.handle_iopub("execute_input", msg_id, {"code": code})
    return cell


async def test_the_running_cell_with_the_executed_code_is_the_one() -> None:
    sidecar = Sidecar()
    doc = document(("a", "x = 1", "idle"), ("b", "x = 1", "running"), ("c", "y", "idle"))
    finder = ServerExecutionCellIds(None, Rooms(doc))  # type: ignore[arg-type]
    cell = ran(sidecar, "m1", "x = 1")
    assert await finder.identify(sidecar, [cell]) == ["b"]  # type: ignore[arg-type]
    assert (cell.id, sidecar.notebook.get("b")) == ("b", cell)
    assert sidecar.notebook.take_evicted() == ["m1"]


async def test_queued_copies_go_to_distinct_cells_in_document_order() -> None:
    """Run All with two identical cells: both are "running" (queued); the first execution
    is the first cell, the second the other one, also when looked up one at a time."""
    sidecar = Sidecar()
    doc = document(("a", "x = 1", "running"), ("b", "x = 1", "running"))
    finder = ServerExecutionCellIds(None, Rooms(doc))  # type: ignore[arg-type]
    first = ran(sidecar, "m1", "x = 1")
    assert await finder.identify(sidecar, [first]) == ["a"]  # type: ignore[arg-type]
    second = ran(sidecar, "m2", "x = 1")
    assert await finder.identify(sidecar, [second]) == ["b"]  # type: ignore[arg-type]


async def test_no_open_room_or_no_such_code_leaves_the_record_as_it_is() -> None:
    sidecar = Sidecar()
    doc = document(("a", "x = 1", "running"))
    closed = ServerExecutionCellIds(None, Rooms(doc, open_=False))  # type: ignore[arg-type]
    cell = ran(sidecar, "m1", "x = 1")
    assert await closed.identify(sidecar, [cell]) == []  # type: ignore[arg-type]
    other = ran(sidecar, "m2", "print('other')")
    finder = ServerExecutionCellIds(None, Rooms(doc))  # type: ignore[arg-type]
    assert await finder.identify(sidecar, [other]) == []  # type: ignore[arg-type]
    assert (cell.id, other.id) == ("m1", "m2")
