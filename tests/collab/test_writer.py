"""SharedDocumentWriter: the record of an execution whose page is gone, written into a real
shared notebook document (jupyter_ydoc's YNotebook on pycrdt), as pages would show it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from jupyter_sidecar_ext.collab.writer import SharedDocumentWriter
from jupyter_sidecar_ext.record.shadow import ShadowCell, ShadowNotebook

pytest.importorskip("jupyter_ydoc")
pycrdt = pytest.importorskip("pycrdt")
from jupyter_ydoc import YNotebook  # noqa: E402

CODE = "for i in range(3): print(i)"


@dataclass
class Page:
    """What the tap tells the writer about the page that sent each execution."""

    kernel_id: str = "k1"
    path: str | None = "nb.ipynb"
    alive: bool = True
    gone: set[str] = field(default_factory=set)
    notebook: ShadowNotebook = field(default_factory=ShadowNotebook)

    def orphaned(self, msg_id: str) -> bool:
        return msg_id in self.gone


class Collaboration:
    """jupyter_server_ydoc's `get_document` for one open room."""

    def __init__(self, document: YNotebook | None) -> None:
        self.document = document

    async def get_document(self, **kwargs: Any) -> YNotebook | None:
        assert kwargs == {
            "path": "nb.ipynb", "content_type": "notebook", "file_format": "json", "copy": False
        }  # fmt: skip
        return self.document


def document(source: str = CODE, outputs: list[dict[str, Any]] | None = None) -> YNotebook:
    notebook = YNotebook()
    cell = {"cell_type": "code", "id": "c1", "source": source, "metadata": {}, "outputs": []}
    notebook.set({"cells": [{**cell, "outputs": outputs or [], "execution_count": None}],
                  "metadata": {}, "nbformat": 4, "nbformat_minor": 5})  # fmt: skip
    notebook.ycells[0]["execution_state"] = "running"  # left so by the page that ran it
    return notebook


def running(page: Page, text: str) -> ShadowCell:
    notebook = page.notebook
    notebook.add_request("m1", CODE, "c1")
    notebook.handle_iopub("status", "m1", {"execution_state": "busy"})
    notebook.handle_iopub("execute_input", "m1", {"execution_count": 7, "code": CODE})
    notebook.handle_iopub("stream", "m1", {"name": "stdout", "text": text})
    page.gone.add("m1")
    cell = notebook.get("c1")
    assert cell is not None
    return cell


def finish(page: Page, text: str) -> ShadowCell:
    notebook = page.notebook
    notebook.handle_iopub("stream", "m1", {"name": "stdout", "text": text})
    notebook.handle_reply("m1", {"status": "ok", "execution_count": 7})
    notebook.handle_iopub("status", "m1", {"execution_state": "idle"})
    cell = notebook.get("c1")
    assert cell is not None
    return cell


def shown(doc: YNotebook) -> dict[str, Any]:
    ycell = doc.ycells[0]
    return {
        "outputs": ycell["outputs"].to_py(),
        "execution_count": ycell.get("execution_count"),
        "execution_state": ycell.get("execution_state"),
        "trusted": ycell["metadata"].get("trusted"),
    }


def writer(doc: YNotebook | None) -> SharedDocumentWriter:
    return SharedDocumentWriter(registry=None, ydoc=Collaboration(doc), event_logger=None)


async def test_a_cell_whose_page_is_gone_is_written_to_its_end() -> None:
    doc, page = document(), Page()
    written = await writer(doc).write(page, [running(page, "0\n")])
    assert written == ["c1"]
    assert shown(doc) == {
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "0\n"}],
        "execution_count": None,
        "execution_state": "running",
        "trusted": True,
    }
    array_changes: list[Any] = []
    outputs = doc.ycells[0]["outputs"]
    subscription = outputs.observe(array_changes.append)  # not told of text appended
    await writer(doc).write(page, [finish(page, "1\n2\n")])
    assert shown(doc) == {
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "0\n1\n2\n"}],
        "execution_count": 7,
        "execution_state": "idle",
        "trusted": True,
    }
    assert array_changes == []  # the growing stream was appended to, as pages append
    outputs.unobserve(subscription)


async def test_what_the_page_wrote_is_completed_not_repeated() -> None:
    doc = document(outputs=[{"output_type": "stream", "name": "stdout", "text": "0\n"}])
    page = Page()
    running(page, "0\n")
    await writer(doc).write(page, [finish(page, "1\n")])
    assert shown(doc)["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "0\n1\n"}]
    assert await writer(doc).write(page, [finish(page, "")]) == []


async def test_an_edited_cell_or_a_newer_run_is_left_alone() -> None:
    page = Page()
    cell = running(page, "0\n")
    edited = document(source="print('other')")
    assert await writer(edited).write(page, [cell]) == []
    assert shown(edited)["outputs"] == []
    newer = document()
    newer.ycells[0]["execution_count"] = 9
    assert await writer(newer).write(page, [finish(page, "")]) == []


async def test_only_executions_whose_page_is_gone_are_taken_over() -> None:
    doc, page = document(), Page()
    cell = running(page, "0\n")
    page.gone.clear()  # the page that ran it is still there: it writes its own outputs
    registry = Registry(page)
    shared = SharedDocumentWriter(registry, ydoc=Collaboration(doc), event_logger=None)
    shared.listen()
    registry.listener(page, [cell])
    await shared.stop()
    assert shown(doc)["outputs"] == []
    page.gone.add("m1")
    registry.listener(page, [cell])
    await shared.stop()
    assert len(shown(doc)["outputs"]) == 1


async def test_no_open_room_writes_nothing() -> None:
    page = Page()
    assert await writer(None).write(page, [running(page, "0\n")]) == []


class Registry:
    """The registry's side the writer uses: its cells listener and the kernels it has."""

    def __init__(self, *sidecars: Page) -> None:
        self.sidecars = list(sidecars)

    def add_cells_listener(self, listener: Any) -> None:
        self.listener = listener

    def all(self) -> list[Page]:
        return self.sidecars


async def test_a_loaded_room_is_caught_up_and_left_running_cells_settle() -> None:
    """A room loaded again (after a server restart, or once no page had it open) holds a
    cell left "running" by a page or server that went away, and maybe an execution that
    ended meanwhile: the ended one is written, a stale "running" state set idle, and a cell
    a live kernel still runs keeps running."""
    doc = document()
    orphan = {"cell_type": "code", "id": "c2", "source": "x", "metadata": {}, "outputs": []}
    doc.append_cell({**orphan, "execution_count": None})
    doc.ycells[1]["execution_state"] = "running"
    page = Page()
    running(page, "0\n")
    finish(page, "1\n")
    await SharedDocumentWriter(
        Registry(page), ydoc=Collaboration(doc), event_logger=None
    ).room_loaded("nb.ipynb")
    assert shown(doc)["execution_state"] == "idle"
    assert shown(doc)["execution_count"] == 7
    assert doc.ycells[1]["execution_state"] == "idle"

    still = document()
    busy = Page()
    running(busy, "0\n")
    await SharedDocumentWriter(
        Registry(busy), ydoc=Collaboration(still), event_logger=None
    ).room_loaded("nb.ipynb")
    assert shown(still)["execution_state"] == "running"
    assert shown(still)["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "0\n"}]
