"""The shadow notebook: what JupyterLab would show for each execution, kept on the server.

Pure logic, no I/O: :class:`ShadowNotebook` applies parsed kernel messages (an
intercepted ``execute_request``, iopub messages, ``execute_reply``) to
:class:`ShadowCell` objects and returns the cells that changed. It follows
JupyterLab 4.6: ``OutputArea._onIOPub`` (``@jupyterlab/outputarea`` widget.ts) for
routing outputs, ``KernelConnection._handleDisplayId`` (``@jupyterlab/services``) for
display ids; each cell's outputs are an :class:`~.output_area.OutputArea`.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any, Literal, cast

from .._tz import isoformat
from .output_area import DisplayMap, OutputArea, RichOutput

__all__ = ["FINAL_STATUSES", "CellStatus", "ShadowCell", "ShadowNotebook"]

CellStatus = Literal["queued", "running", "ok", "error", "aborted"]
FINAL_STATUSES: frozenset[str] = frozenset({"ok", "error", "aborted"})
_REPLY_STATUSES: dict[Any, CellStatus] = {"ok": "ok", "error": "error", "aborted": "aborted"}
_JSON_MIME = re.compile(r"^application/(.*\+)?json$")  # nbformat: any JSON value allowed


class ShadowCell(OutputArea):
    """One execution as JupyterLab shows it; mutated only by :class:`ShadowNotebook`.

    ``outputs`` and ``truncated`` come from :class:`~.output_area.OutputArea`.
    """

    __slots__ = (
        "_error_seen",
        "ended",
        "execution_count",
        "gap",
        "id",
        "idle",
        "input_request",
        "msg_id",
        "queued",
        "run",
        "seq",
        "source",
        "stale",
        "stale_because",
        "started",
        "status",
        "unwatched",
    )

    def __init__(
        self,
        id: str,
        msg_id: str,
        source: str,
        *,
        status: CellStatus = "queued",
        run: int = 0,
        max_output_bytes: int = 4_000_000,
        displays: DisplayMap | None = None,
    ) -> None:
        super().__init__(max_output_bytes, displays)
        self.id = id
        self.msg_id = msg_id
        self.source = source
        self.status: CellStatus = status
        self.execution_count: int | None = None
        self.queued: float | None = None  # when the request was intercepted
        self.started: float | None = None
        self.ended: float | None = None
        self.seq = 0
        self.run = run
        self.stale = False
        # what changed since it ran (dataflow/graph.py StaleReason dicts), set by the
        # dataflow service; `stale` above means "from an earlier kernel run"
        self.stale_because: list[dict[str, Any]] = []
        self.gap = False
        # the kernel's open input_request for this run ({prompt, password}), until answered
        self.input_request: dict[str, Any] | None = None
        # it finished while no page of the kernel had a websocket open (set by the sidecar)
        self.unwatched = False
        # its idle was seen, or none will come: no more outputs (the reply may come first:
        # shell and iopub are separate sockets)
        self.idle = False
        self._error_seen = False

    def __repr__(self) -> str:
        return f"<ShadowCell {self.id!r} {self.status} seq={self.seq} run={self.run}>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "msg_id": self.msg_id,
            "source": self.source,
            "status": self.status,
            "execution_count": self.execution_count,
            "outputs": self.outputs,
            "started": _iso(self.started),
            "ended": _iso(self.ended),
            "seq": self.seq,
            "truncated": self.truncated,
            "run": self.run,
            "stale": self.stale,
            "stale_because": self.stale_because,
            "gap": self.gap,
            "input_request": self.input_request,
            "unwatched": self.unwatched,
        }

    @property
    def ename(self) -> str | None:
        """The exception name of the cell's last error output (None: it shows none)."""
        for output in reversed(self.outputs):
            if output.get("output_type") == "error":
                ename = output.get("ename")
                return ename if isinstance(ename, str) else None
        return None


class ShadowNotebook:
    """Cells of one kernel, in first-execution order, fed with parsed kernel messages."""

    def __init__(self, *, max_output_bytes: int = 4_000_000, max_cells: int = 1000) -> None:
        self.max_output_bytes = max_output_bytes
        self.max_cells = max(1, max_cells)
        self.seq = 0
        self.run = 0
        self._cells: dict[str, ShadowCell] = {}
        self._by_msg_id: dict[str, ShadowCell] = {}
        # msg_ids of replaced/evicted cells -> their run: their late messages are ignored
        self._retired: dict[str, int] = {}
        self._displays: DisplayMap = {}
        self._evicted: list[str] = []  # ids evicted since the last take_evicted()
        self._finished: list[ShadowCell] = []  # cells ended since the last take_finished()

    def __len__(self) -> int:
        return len(self._cells)

    # -- lookups ---------------------------------------------------------------------

    def get(self, cell_id: str) -> ShadowCell | None:
        return self._cells.get(cell_id) or self._by_msg_id.get(cell_id)

    def by_msg_id(self, msg_id: str) -> ShadowCell | None:
        return self._by_msg_id.get(msg_id)

    def cells(self, since: int = 0) -> list[ShadowCell]:
        return [cell for cell in self._cells.values() if cell.seq > since]

    def to_dict(self, since: int = 0) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "run": self.run,
            "cells": [cell.to_dict() for cell in self.cells(since)],
        }

    # -- message handling ------------------------------------------------------------

    def add_request(
        self, msg_id: str, code: str, cell_id: str | None = None, now: float | None = None
    ) -> ShadowCell:
        """Record an intercepted execute_request; re-running a cell id starts a fresh cell."""
        existing = self._by_msg_id.get(msg_id)
        if existing is not None:
            return existing
        cell = self._new_cell(cell_id or msg_id, msg_id, code, "queued")
        cell.queued = _now(now)
        self._changed([cell])
        return cell

    def handle_iopub(
        self,
        msg_type: str,
        parent_msg_id: str | None,
        content: dict[str, Any],
        now: float | None = None,
    ) -> list[ShadowCell]:
        """Apply one iopub message; returns the cells that changed."""
        cell = self._by_msg_id.get(parent_msg_id) if parent_msg_id else None
        if cell is not None and cell.stale:
            return []  # from a kernel run that ended: JupyterLab drops these too
        if msg_type == "stream":
            if cell is None:
                return []
            text = content.get("text", "")
            if not isinstance(text, str):
                text = "".join(text) if isinstance(text, list) else str(text)
            cell.write_stream(str(content.get("name", "stdout")), text)
            return self._changed([cell])
        if msg_type in ("display_data", "execute_result", "update_display_data"):
            return self._display(msg_type, cell, parent_msg_id, content)
        if cell is None:
            if msg_type == "execute_input" and parent_msg_id and parent_msg_id not in self._retired:
                return self._foreign_input(parent_msg_id, content, now)
            return []
        if msg_type == "status":
            return self._status(cell, content.get("execution_state"), _now(now))
        if msg_type == "error":
            cell._error_seen = True
            cell.add(RichOutput(_error_output(content)))
            return self._changed([cell])
        if msg_type == "clear_output":
            wait = bool(content.get("wait", False))
            cell.clear(wait)
            return [] if wait else self._changed([cell])
        if msg_type == "execute_input":
            cell.execution_count = _count(content.get("execution_count"))
            if cell.status == "queued":
                cell.status = "running"
            if cell.started is None and cell.status == "running":
                cell.started = _now(now)
            return self._changed([cell])
        return []

    def handle_reply(
        self, parent_msg_id: str, content: dict[str, Any], now: float | None = None
    ) -> list[ShadowCell]:
        """Apply an execute_reply: it decides status and execution_count, before or after idle."""
        cell = self._by_msg_id.get(parent_msg_id)
        if cell is None or cell.stale:
            return []
        cell.status = _REPLY_STATUSES.get(content.get("status"), "error")
        cell.input_request = None
        if "execution_count" in content:
            cell.execution_count = _count(content["execution_count"])
        if cell.ended is None:
            self._end(cell, _now(now))
        if cell.status == "ok":
            page = _page_payload(content.get("payload"))
            if page is not None:  # OutputArea._onExecuteReply shows the first "page" payload
                cell.add(RichOutput(_rich_output("display_data", {"data": page})))
        self._evict()
        return self._changed([cell])

    def identify(self, msg_id: str, cell_id: str) -> list[ShadowCell]:
        """A request recorded under its msg_id (its cell id unknown: sent by another client)
        turns out to be the run of the notebook cell `cell_id`: it is re-keyed, replacing an
        earlier run of that cell as a new request would. Its old key leaves the store."""
        cell = self._by_msg_id.get(msg_id)
        if cell is None or cell.id != msg_id or cell_id == msg_id or cell.stale:
            return []
        del self._cells[msg_id]
        old = self._cells.get(cell_id)
        if old is not None:
            self._forget(old)
        cell.id = cell_id
        self._cells[cell_id] = cell
        self._evicted.append(msg_id)
        return self._changed([cell])

    def mark_restart(self, now: float | None = None) -> list[ShadowCell]:
        """The kernel restarted: older cells become stale, unfinished ones aborted."""
        self.run += 1
        ended = _now(now)
        changed = []
        for cell in self._cells.values():
            if cell.stale:
                continue
            cell.stale = True
            cell.idle = True
            cell.input_request = None
            if cell.status in ("queued", "running"):
                cell.status = "aborted"
                if cell.ended is None:
                    self._end(cell, ended)
            changed.append(cell)
        self._displays.clear()  # JupyterLab forgets display ids on restart (_clearKernelState)
        return self._changed(changed)

    def set_input_request(self, msg_id: str, prompt: str, password: bool) -> list[ShadowCell]:
        """The kernel asked this execution's requester for input (stdin input_request)."""
        cell = self._by_msg_id.get(msg_id)
        if cell is None or cell.stale or cell.status in FINAL_STATUSES:
            return []
        cell.input_request = {"prompt": prompt, "password": password}
        return self._changed([cell])

    def clear_input_request(self, msg_id: str) -> list[ShadowCell]:
        """The pending input of this execution was answered."""
        cell = self._by_msg_id.get(msg_id)
        if cell is None or cell.input_request is None:
            return []
        cell.input_request = None
        return self._changed([cell])

    def mark_stale_because(self, reasons: dict[str, list[dict[str, Any]]]) -> list[ShadowCell]:
        """Set the dataflow staleness of these cells of the current run (an empty list: the
        cell is current again); returns the cells whose staleness changed."""
        changed = []
        for cell_id, because in reasons.items():
            cell = self._cells.get(cell_id)
            if cell is not None and cell.run == self.run and because != cell.stale_because:
                cell.stale_because = because
                changed.append(cell)
        return self._changed(changed)

    def mark_gap(self, msg_id: str) -> list[ShadowCell]:
        """Messages of this execution were lost (e.g. reply seen, idle never came)."""
        cell = self._by_msg_id.get(msg_id)
        if cell is None:
            return []
        cell.gap = True
        return self._changed([cell])

    # -- internals -------------------------------------------------------------------

    def _changed(self, cells: list[ShadowCell]) -> list[ShadowCell]:
        if cells:
            self.seq += 1
            for cell in cells:
                cell.seq = self.seq
        return cells

    def _same_run(self, msg_id: str | None) -> bool:
        """Whether a message with this parent (not a live cell) may come from the current run."""
        run = self._retired.get(msg_id) if msg_id else None
        return run is None or run == self.run

    def _new_cell(self, cell_id: str, msg_id: str, code: str, status: CellStatus) -> ShadowCell:
        cell = ShadowCell(
            cell_id,
            msg_id,
            code,
            status=status,
            run=self.run,
            max_output_bytes=self.max_output_bytes,
            displays=self._displays,
        )
        old = self._cells.get(cell_id)
        if old is not None:
            self._forget(old)
        self._cells[cell_id] = cell  # a re-run keeps the cell's first-execution position
        self._by_msg_id[msg_id] = cell
        self._retired.pop(msg_id, None)
        self._evict()
        return cell

    def _forget(self, cell: ShadowCell) -> None:
        if self._by_msg_id.get(cell.msg_id) is cell:
            del self._by_msg_id[cell.msg_id]
        cell.release_displays()
        self._retired[cell.msg_id] = cell.run
        while len(self._retired) > 4 * self.max_cells + 64:
            del self._retired[next(iter(self._retired))]

    def _evict(self) -> None:
        excess = len(self._cells) - self.max_cells
        if excess <= 0:
            return
        victims = []
        for cell in self._cells.values():
            if cell.status in FINAL_STATUSES:
                victims.append(cell)
                if len(victims) == excess:
                    break
        for cell in victims:
            del self._cells[cell.id]
            self._forget(cell)
            self._evicted.append(cell.id)

    def _end(self, cell: ShadowCell, when: float) -> None:
        """The execution is over (its reply, idle or a restart came first): once per cell."""
        cell.ended = when
        self._finished.append(cell)
        if len(self._finished) > self.max_cells:  # nobody takes them (no sidecar): bounded
            del self._finished[0]

    def take_finished(self) -> list[ShadowCell]:
        """The cells whose execution ended since the last call, in the order they ended."""
        finished, self._finished = self._finished, []
        return finished

    def take_evicted(self) -> list[str]:
        """Ids of the cells evicted since the last call (the store forgets them too)."""
        evicted, self._evicted = self._evicted, []
        return evicted

    def _foreign_input(
        self, msg_id: str, content: dict[str, Any], now: float | None
    ) -> list[ShadowCell]:
        # A request we did not intercept (another client): record it under its msg_id.
        code = content.get("code", "")
        cell = self._new_cell(msg_id, msg_id, code if isinstance(code, str) else "", "running")
        cell.execution_count = _count(content.get("execution_count"))
        cell.started = _now(now)
        return self._changed([cell])

    def _status(self, cell: ShadowCell, state: Any, now: float) -> list[ShadowCell]:
        if state == "busy":
            if cell.status != "queued" and cell.started is not None:
                return []
            if cell.status == "queued":
                cell.status = "running"
            if cell.started is None:
                # busy can be read after the reply (iopub and shell are separate sockets)
                cell.started = now if cell.ended is None else min(now, cell.ended)
            return self._changed([cell])
        if state == "idle":
            cell.idle = True
            cell.input_request = None
            if cell.status in FINAL_STATUSES:
                if cell.ended is not None:
                    return []  # the reply came first and decided
            else:
                cell.status = "error" if cell._error_seen else "ok"
            if cell.ended is None:
                self._end(cell, now)
            self._evict()
            return self._changed([cell])
        return []

    def _display(
        self,
        msg_type: str,
        cell: ShadowCell | None,
        parent_msg_id: str | None,
        content: dict[str, Any],
    ) -> list[ShadowCell]:
        """display_data / execute_result / update_display_data, with display ids.

        As in JupyterLab's ``KernelConnection._handleDisplayId``, any of the three
        carrying ``transient.display_id`` first updates every display_data output
        already shown with that id, in every cell; then display_data and
        execute_result are added to their own cell, but only a display_data output
        is remembered for later updates (``OutputArea._onIOPub``).
        """
        transient = content.get("transient")
        display_id = transient.get("display_id") if isinstance(transient, dict) else None
        if not isinstance(display_id, str) or not display_id:
            display_id = None
        changed: list[ShadowCell] = []
        if display_id is not None and (cell is not None or self._same_run(parent_msg_id)):
            changed = self._update_display(display_id, content)
        if msg_type != "update_display_data" and cell is not None:
            output = _rich_output(msg_type, content)
            keep_id = display_id if msg_type == "display_data" else None
            cell.add(RichOutput(output, keep_id))
            if cell not in changed:
                changed.append(cell)
        return self._changed(changed)

    def _update_display(self, display_id: str, content: dict[str, Any]) -> list[ShadowCell]:
        holders = self._displays.get(display_id)
        if not holders:
            return []
        output = _rich_output("display_data", content)
        changed: list[ShadowCell] = []
        for area, entry in list(holders.values()):
            if id(entry) in holders:  # not dropped by an earlier replace
                area.replace(entry, output)
                cell = cast(ShadowCell, area)
                if cell not in changed:
                    changed.append(cell)
        return changed


# -- nbformat helpers ---------------------------------------------------------------


def _rich_output(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    metadata = content.get("metadata")
    output: dict[str, Any] = {
        "output_type": msg_type if msg_type == "execute_result" else "display_data",
        "data": _mimebundle(content.get("data")),
        "metadata": metadata if isinstance(metadata, dict) else {},
    }
    if msg_type == "execute_result":
        output["execution_count"] = _count(content.get("execution_count"))
    return output


def _error_output(content: dict[str, Any]) -> dict[str, Any]:
    traceback = content.get("traceback")
    return {
        "output_type": "error",
        "ename": str(content.get("ename", "")),
        "evalue": str(content.get("evalue", "")),
        "traceback": [str(line) for line in traceback] if isinstance(traceback, list) else [],
    }


def _mimebundle(data: Any) -> dict[str, Any]:
    """The data dict, with values nbformat would reject turned into JSON text."""
    if not isinstance(data, dict):
        return {}
    for key, value in data.items():
        if not (isinstance(value, str) or _is_json_mime(key) or _is_str_list(value)):
            break
    else:
        return data
    return {
        str(k): v
        if isinstance(v, str) or _is_json_mime(str(k)) or _is_str_list(v)
        else json.dumps(v, default=str)
        for k, v in data.items()
    }


def _is_json_mime(key: Any) -> bool:
    return isinstance(key, str) and _JSON_MIME.match(key) is not None


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _page_payload(payload: Any) -> dict[str, Any] | None:
    if isinstance(payload, list):
        for item in payload:
            if isinstance(item, dict) and item.get("source") == "page":
                data = item.get("data")
                return data if isinstance(data, dict) else None
    return None


def _count(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _iso(when: float | None) -> str | None:
    return None if when is None else isoformat(when)
