"""SharedDocumentWriter: with real-time collaboration, the server fills the cells of the
shared notebook document whose page is gone.

With jupyter-collaboration, every page of a notebook shows one shared (Y) document. A cell's
outputs are written into it by the page that ran the cell, as long as that page is connected;
once it is gone, nobody would, and the cell would stay "running" with partial outputs in
every page. The server then writes them, from its record, as the only writer: pages see the
change through the document (no page follows or fills anything, so nothing is duplicated),
and the document ends right also when no page was open when the cell ended.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from traitlets import Bool
from traitlets.config import LoggingConfigurable

from ..record.shadow import ShadowCell
from ..registry import SidecarRegistry
from ..sidecar import KernelSidecar

# jupyter_server_ydoc's events; "initialize": a document room was (re)loaded for a path.
COLLABORATION_EVENTS = "https://schema.jupyter.org/jupyter_collaboration/session/v1"
# Where jupyter_server_ydoc puts its YDocExtension (its documented Python API).
YDOC_SETTING = "jupyter_server_ydoc"
FINAL = frozenset({"ok", "error", "aborted"})
# Finished executions written into a document, remembered so that outputs a user cleared
# afterwards are not put back when the room is loaded again (bounded).
_MAX_WRITTEN = 10_000


class SharedDocumentWriter(LoggingConfigurable):
    """Writes the record of executions whose page is gone into the shared documents."""

    enabled = Bool(
        True,
        config=True,
        help="With jupyter-collaboration, write the outputs, execution count and state of "
        "cells whose page went away into the shared notebook document (every page sees "
        "them there). Off: pages restore outputs themselves, which a shared document "
        "cannot do without duplicates.",
    )

    def __init__(self, registry: SidecarRegistry, ydoc: Any, event_logger: Any, **kwargs: Any):
        """`ydoc` is jupyter_server_ydoc's YDocExtension (its `get_document`)."""
        super().__init__(**kwargs)
        self._registry = registry
        self._ydoc = ydoc
        self._event_logger = event_logger
        self._lock = asyncio.Lock()  # one write at a time, in order
        self._tasks: set[asyncio.Task[None]] = set()
        self._written: OrderedDict[str, None] = OrderedDict()

    def listen(self) -> None:
        self._registry.add_cells_listener(self._on_cells)
        if self._event_logger is not None:
            self._event_logger.add_listener(
                schema_id=COLLABORATION_EVENTS, listener=self._on_collaboration_event
            )

    async def stop(self) -> None:
        if self._event_logger is not None:
            self._event_logger.remove_listener(
                schema_id=COLLABORATION_EVENTS, listener=self._on_collaboration_event
            )
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- triggers ------------------------------------------------------------------------------

    def _on_cells(self, sidecar: KernelSidecar, cells: list[ShadowCell]) -> None:
        """A batch of recorded changes: those of executions whose page is gone."""
        orphans = [cell for cell in cells if not cell.stale and sidecar.orphaned(cell.msg_id)]
        if orphans and sidecar.path and sidecar.alive:
            self._track(self.write(sidecar, orphans))

    async def _on_collaboration_event(
        self, logger: Any, schema_id: str, data: dict[str, Any]
    ) -> None:
        """A room was loaded: it holds what was saved, maybe before executions ended."""
        path = data.get("path")
        if data.get("action") == "initialize" and isinstance(path, str):
            self._track(self.room_loaded(path))

    async def room_loaded(self, path: str) -> None:
        """Catch a newly loaded document up: executions that ended or went on while no room
        was open are written; a cell left "running" by a page or a server that went away
        (the state is kept in jupyter-collaboration's update store, not in the file) and
        that no live kernel of the notebook is running any more is set idle."""
        sidecars = [sidecar for sidecar in self._registry.all() if sidecar.alive]
        sidecars = [sidecar for sidecar in sidecars if sidecar.path == path]
        running: set[str] = set()
        for sidecar in sidecars:
            cells = [cell for cell in sidecar.notebook.cells() if not cell.stale]
            running |= {cell.id for cell in cells if cell.status not in FINAL}
            cells = [
                cell
                for cell in cells
                if sidecar.orphaned(cell.msg_id) and self._key(sidecar, cell) not in self._written
            ]
            if cells:
                await self.write(sidecar, cells)
        async with self._lock:
            document = await self._document(path)
            if document is None:
                return
            with document.ydoc.transaction():
                for ycell in document.ycells:
                    if ycell.get("execution_state") == "running" and (
                        str(ycell.get("id")) not in running
                    ):
                        ycell["execution_state"] = "idle"

    # -- writing -------------------------------------------------------------------------------

    async def write(self, sidecar: KernelSidecar, cells: Iterable[ShadowCell]) -> list[str]:
        """Write these executions' current record into the notebook's open document (no
        room open: nothing; the next room load catches up). Returns the ids written."""
        if not self.enabled or sidecar.path is None:
            return []
        async with self._lock:
            document = await self._document(sidecar.path)
            if document is None:
                return []
            ycells = {str(ycell.get("id")): ycell for ycell in document.ycells}
            written: list[str] = []
            with document.ydoc.transaction():
                for cell in cells:
                    ycell = ycells.get(cell.id)
                    if ycell is None or not _may_write(ycell, cell):
                        continue
                    if _write_cell(ycell, cell):
                        written.append(cell.id)
                    if cell.status in FINAL:
                        self._remember(self._key(sidecar, cell))
            return written

    async def _document(self, path: str) -> Any:
        """The notebook's shared document if a room has it open (never opened here)."""
        try:
            return await self._ydoc.get_document(
                path=path, content_type="notebook", file_format="json", copy=False
            )
        except Exception:
            self.log.debug("no shared document for %s", path, exc_info=True)
            return None

    def _remember(self, key: str) -> None:
        self._written[key] = None
        self._written.move_to_end(key)
        while len(self._written) > _MAX_WRITTEN:
            self._written.popitem(last=False)

    @staticmethod
    def _key(sidecar: KernelSidecar, cell: ShadowCell) -> str:
        return f"{sidecar.kernel_id}/{cell.msg_id}"

    def _track(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


# pycrdt (a dependency of jupyter-collaboration) is imported where documents are written
# only: without jupyter-collaboration the extension never loads it.


def _may_write(ycell: Any, cell: ShadowCell) -> bool:
    """The document's cell is still the code this execution ran (not edited since), and
    shows no newer execution."""
    if ycell.get("cell_type") != "code" or str(ycell.get("source", "")) != cell.source:
        return False
    shown = ycell.get("execution_count")
    return not (
        isinstance(shown, int | float)
        and cell.execution_count is not None
        and shown > cell.execution_count
    )


def _write_cell(ycell: Any, cell: ShadowCell) -> bool:
    """Make the document's cell show the record: outputs (a growing stream is appended to),
    execution state and count, trusted as the page that ran it made it. Returns whether
    anything changed."""
    from pycrdt import Map

    changed = _write_outputs(ycell, cell.outputs)
    final = cell.status in FINAL
    state = "idle" if final else "running"
    count = cell.execution_count if final else None
    if ycell.get("execution_state") != state:
        ycell["execution_state"] = state
        changed = True
    if ycell.get("execution_count") != count:
        ycell["execution_count"] = count
        changed = True
    metadata = ycell.get("metadata")
    if isinstance(metadata, Map) and metadata.get("trusted") is not True:
        metadata["trusted"] = True
    return changed


def _write_outputs(ycell: Any, outputs: list[dict[str, Any]]) -> bool:
    from pycrdt import Array, Text

    youtputs = ycell.get("outputs")
    if not isinstance(youtputs, Array):
        ycell["outputs"] = Array([_youtput(output) for output in outputs])
        return True
    shown = youtputs.to_py() or []
    if _canonical(shown) == _canonical(outputs):
        return False
    if len(shown) == len(outputs) and outputs:
        head_same = _canonical(shown[:-1]) == _canonical(outputs[:-1])
        last, recorded = shown[-1], outputs[-1]
        text = youtputs[len(shown) - 1].get("text")
        if (
            head_same
            and isinstance(text, Text)
            and last.get("output_type") == recorded.get("output_type") == "stream"
            and last.get("name") == recorded.get("name")
            and _text(recorded).startswith(_text(last))
        ):
            text += _text(recorded)[len(_text(last)) :]  # a stream grew: append, as pages do
            return True
    youtputs.clear()
    youtputs.extend([_youtput(output) for output in outputs])
    return True


def _youtput(output: dict[str, Any]) -> Any:
    """An output as jupyter_ydoc stores it (stream text as a Y text, so pages append)."""
    from pycrdt import Map, Text

    value = json.loads(json.dumps(output))
    if value.get("output_type") == "stream":
        value["text"] = Text(_text(value))
    return Map(value)


def _text(output: dict[str, Any]) -> str:
    text = output.get("text", "")
    return "".join(text) if isinstance(text, list) else str(text)


def _canonical(outputs: list[dict[str, Any]]) -> str:
    """Outputs compared as shown: multiline strings joined, `transient` left out."""
    normal = []
    for output in outputs:
        copy = {key: value for key, value in output.items() if key != "transient"}
        if copy.get("output_type") == "stream":
            copy["text"] = _text(copy)
        elif isinstance(copy.get("data"), dict):
            copy["data"] = {
                mime: "".join(value) if isinstance(value, list) and "json" not in mime else value
                for mime, value in copy["data"].items()
            }
            copy.setdefault("metadata", {})
        normal.append(copy)
    return json.dumps(normal, sort_keys=True, default=str)
