"""ServerExecutionCellIds: with jupyter-server-documents, tell which notebook cell each
server-side execution ran.

jupyter-server-documents runs cells itself: a page asks it over REST, and the notebook's
room sends the execute_request through a kernel client of its own, straight to the kernel,
without JupyterLab's `cellId`. The sidecar then records the execution from iopub under its
msg_id only, and no page could match the record with its cells. The room marks the cell
"running" in the shared document when it queues it and runs its source as is, so the
running cell with the executed code is the one; the record is re-keyed to its id.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from traitlets.config import LoggingConfigurable

from ..record.shadow import ShadowCell
from ..registry import SidecarRegistry
from ..sidecar import KernelSidecar

# jupyter-server-documents' settings key for its YRoomManager (its server extension loaded).
ROOMS_SETTING = "yroom_manager"
UNFINISHED = frozenset({"queued", "running"})
# Executions already matched (or given up on), remembered per server (bounded).
_MAX_SETTLED = 10_000


class ServerExecutionCellIds(LoggingConfigurable):
    """Re-keys executions recorded without a cell id to the document cell they ran."""

    def __init__(self, registry: SidecarRegistry, ydoc: Any, **kwargs: Any):
        """`ydoc` is jupyter-server-documents' Jupyter Collaboration API (`get_document`,
        `fileid_manager`, `yroom_manager`)."""
        super().__init__(**kwargs)
        self._registry = registry
        self._ydoc = ydoc
        self._lock = asyncio.Lock()  # one lookup at a time: a batch sees the one before
        self._tasks: set[asyncio.Task[list[str]]] = set()
        self._settled: OrderedDict[str, None] = OrderedDict()

    def listen(self) -> None:
        self._registry.add_cells_listener(self._on_cells)

    async def stop(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _on_cells(self, sidecar: KernelSidecar, cells: list[ShadowCell]) -> None:
        unknown = [
            cell
            for cell in cells
            if cell.id == cell.msg_id and not cell.stale and cell.msg_id not in self._settled
        ]
        if unknown and sidecar.path and sidecar.alive:
            task = asyncio.ensure_future(self.identify(sidecar, unknown))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def identify(self, sidecar: KernelSidecar, cells: list[ShadowCell]) -> list[str]:
        """Find the document cell each execution ran (the first code cell, in document
        order, with the executed source, preferring cells shown running, and not already
        running another recorded execution); returns the cell ids found."""
        async with self._lock:
            ycells = await self._cells_of(sidecar.path)
            if ycells is None:
                return []
            busy = {
                cell.id
                for cell in sidecar.notebook.cells()
                if cell.status in UNFINISHED and cell.id != cell.msg_id
            }
            found: list[str] = []
            for cell in cells:
                if cell.id != cell.msg_id:  # identified meanwhile
                    continue
                cell_id = _match(ycells, cell.source, busy)
                if cell_id is not None:
                    sidecar.identify(cell.msg_id, cell_id)
                    busy.add(cell_id)
                    found.append(cell_id)
                if cell_id is not None or cell.status not in UNFINISHED:
                    self._settle(cell.msg_id)
            return found

    async def _cells_of(self, path: str | None) -> list[dict[str, Any]] | None:
        """The code cells of the notebook's open room (none open: None; never opened here,
        as `get_document` would)."""
        if path is None or not self._room_open(path):
            return None
        try:
            document = await self._ydoc.get_document(
                path=path, content_type="notebook", file_format="json", copy=False
            )
        except Exception:
            self.log.debug("no shared document for %s", path, exc_info=True)
            return None
        return [
            {
                "id": str(ycell.get("id")),
                "source": str(ycell.get("source", "")),
                "running": ycell.get("execution_state") == "running",
            }
            for ycell in document.ycells
            if ycell.get("cell_type") == "code"
        ]

    def _room_open(self, path: str) -> bool:
        try:
            file_id = self._ydoc.fileid_manager.get_id(path)
            return file_id is not None and bool(
                self._ydoc.yroom_manager.has_room(f"json:notebook:{file_id}")
            )
        except Exception:
            self.log.debug("cannot tell whether %s has a room", path, exc_info=True)
            return False

    def _settle(self, msg_id: str) -> None:
        self._settled[msg_id] = None
        while len(self._settled) > _MAX_SETTLED:
            self._settled.popitem(last=False)


def _match(ycells: list[dict[str, Any]], source: str, busy: set[str]) -> str | None:
    same = [ycell for ycell in ycells if ycell["source"] == source and ycell["id"] not in busy]
    running = [ycell for ycell in same if ycell["running"]]
    chosen = (running or same)[:1]
    return str(chosen[0]["id"]) if chosen else None
