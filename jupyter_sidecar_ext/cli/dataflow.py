"""`jupyter sidecar dataflow` (a kernel's graph and stale cells) and `jupyter sidecar run`
(a notebook cell with what it needs or what depends on it, queued on the server)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from traitlets import Bool, Unicode

from ..schemas.api import Dataflow, DataflowCell, KernelList, PlanQueued
from .client import CLIError, SidecarClient, kernel_path, read_answer
from .common import JSON_FLAGS, SERVER_ALIASES, ServerCommand, one_line, print_json, print_table

HEADERS = ("CELL", "COUNT", "DEFINES", "USES", "STATE")
NAMES_WIDTH = 40


def cell_state(cell: DataflowCell) -> str:
    """`current`, or why not: what changed since it ran, what it reads that no cell defines."""
    notes = [
        f"stale: {r.name} changed by {r.cell_id} [{r.execution_count}]" for r in cell.stale_because
    ]
    if cell.hidden_names:
        notes.append("hidden state: " + ", ".join(cell.hidden_names))
    if cell.error:
        notes.append("not analysed: " + cell.error)
    return "; ".join(notes) or "current"


def cell_row(cell: DataflowCell) -> tuple[str, ...]:
    count = "-" if cell.execution_count is None else str(cell.execution_count)
    names = [", ".join(cell.defines) or "-", ", ".join(cell.uses) or "-"]
    return (cell.id, count, *(one_line(n, NAMES_WIDTH) for n in names), cell_state(cell))


class DataflowApp(ServerCommand):
    """`jupyter sidecar dataflow`."""

    name = "jupyter-sidecar-dataflow"
    description = """Show a kernel's dataflow: what each recorded cell defines and uses, and
    which cells are stale (a name they used changed since they ran) or read hidden state.

    --json prints the server's GET .../dataflow payload (cells and edges)."""
    examples = """
    jupyter sidecar dataflow 3f2a
    jupyter sidecar dataflow 3f2a --json
    """

    async def run(self) -> int:
        (kernel_id,) = self.positional("KERNEL_ID")
        client = self.client()
        try:
            kernel_id = await client.resolve_kernel(kernel_id)
            graph = await client.get_as(Dataflow, kernel_path(kernel_id, "dataflow"))
        finally:
            client.close()
        if self.json_output:
            print_json(graph)
            return 0
        if not graph.cells:
            print("no recorded cells in this kernel run", file=sys.stderr)
            return 0
        print_table(HEADERS, [cell_row(cell) for cell in graph.cells])
        if graph.edges:
            print()
            rows = [(e.from_, e.to, ", ".join(e.names)) for e in graph.edges]
            print_table(("FROM", "TO", "NAMES"), rows)
        stale = sum(1 for cell in graph.cells if cell.stale_because)
        if stale:
            print(f"{stale} stale cell(s)", file=sys.stderr)
        return 0


class RunApp(ServerCommand):
    """`jupyter sidecar run`."""

    name = "jupyter-sidecar-run"
    description = """Run a notebook cell with what it needs (--needs) or with what depends on it
    (--dependents), in a kernel of that notebook, through the server's execution queue.

    The notebook file gives the cells in order; the kernel is the running one whose session
    has that path (relative to the server's root), or --kernel. Prints the queued cells."""
    examples = """
    jupyter sidecar run analysis.ipynb --cell 9f1c --needs
    jupyter sidecar run analysis.ipynb --cell 9f1c --dependents --kernel 3f2a
    """

    cell = Unicode("", config=True, help="The id of the cell to run (nbformat 4.5 cell ids).")
    kernel = Unicode("", config=True, help="The kernel to run in (default: the notebook's).")
    dependents = Bool(False, config=True, help="Run what depends on the cell (downstream).")
    needs = Bool(False, config=True, help="Run what the cell needs first (upstream).")
    aliases = {**SERVER_ALIASES, "cell": "RunApp.cell", "kernel": "RunApp.kernel"}
    flags = {
        **JSON_FLAGS,
        "needs": ({"RunApp": {"needs": True}}, "Run what the cell needs, then the cell."),
        "dependents": (
            {"RunApp": {"dependents": True}},
            "Run the cell, then what depends on it.",
        ),
    }

    async def run(self) -> int:
        (path,) = self.positional("NOTEBOOK.ipynb")
        if not self.cell:
            raise CLIError("give --cell ID", status=2)
        if self.needs == self.dependents:
            raise CLIError("give one of --needs and --dependents", status=2)
        cells = code_cells(path)
        body = {
            "cells": cells,
            "target": self.cell,
            "direction": "upstream" if self.needs else "downstream",
        }
        client = self.client()
        try:
            kernel_id = await self._kernel(client, path)
            answer = await client.request("POST", kernel_path(kernel_id, "run"), body)
        finally:
            client.close()
        queued = read_answer(PlanQueued, answer, "POST run")
        if self.json_output:
            print_json(queued)
            return 0
        for cell in queued.cells:
            print(f"{cell.id}\t{cell.msg_id}")
        print(f"queued {len(queued.cells)} cell(s) in kernel {kernel_id}", file=sys.stderr)
        return 0

    async def _kernel(self, client: SidecarClient, path: str) -> str:
        if self.kernel:
            return await client.resolve_kernel(self.kernel)
        answer = await client.get("api/sidecar/kernels", {"path": path})
        kernels = [k for k in read_answer(KernelList, answer, "GET kernels").root if k.alive]
        if not kernels:
            raise CLIError(f"no running kernel has the notebook {path} (give --kernel)")
        return kernels[0].kernel_id


def code_cells(path: str) -> list[dict[str, Any]]:
    """The notebook's code cells in order, as a plan takes them."""
    import nbformat

    try:
        notebook = nbformat.read(Path(path), as_version=4)
    except (OSError, ValueError) as error:
        raise CLIError(f"cannot read {path}: {error}") from None
    cells = []
    for cell in notebook.cells:
        if cell.cell_type == "code":
            if "id" not in cell:
                raise CLIError(f"{path} has cells without ids (nbformat < 4.5): save it again")
            cells.append({"id": cell.id, "source": cell.source})
    return cells
