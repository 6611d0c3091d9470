"""`jupyter sidecar notebook`: a kernel's shadow model as an nbformat v4 notebook.

Each recorded execution becomes a code cell with its source, outputs and execution count;
the sidecar's own fields (status, msg_id, timing) go into the cell's `metadata.sidecar`.
Cell ids that nbformat would reject (it allows 1-64 of `[a-zA-Z0-9-_]`) are replaced.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from traitlets import Unicode

from ..schemas.api import KernelList, ShadowNotebook
from ..schemas.notebook import (
    Cell,
    CellMetadata,
    CodeCell,
    KernelSpec,
    LanguageInfo,
    Notebook,
    NotebookMetadata,
)
from .client import CLIError, SidecarClient, kernel_path
from .common import SERVER_ALIASES, ServerCommand, print_json

_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
SIDECAR_KEYS = ("id", "msg_id", "status", "started", "ended", "truncated", "run", "stale", "gap")


def build_notebook(shadow: ShadowNotebook, kernelspec: dict[str, Any] | None) -> Notebook:
    """The shadow notebook as an nbformat v4 notebook, built (so validated) through the
    Notebook model: its outputs were validated as nbformat outputs when the answer was read."""
    from nbformat.corpus.words import generate_corpus_id

    sidecar_of_notebook = {"kernel_id": shadow.kernel_id, "seq": shadow.seq}
    metadata = NotebookMetadata.model_validate({"sidecar": sidecar_of_notebook})
    if kernelspec:
        metadata.kernelspec = KernelSpec(**kernelspec)
        language = kernelspec.get("language")
        if language:
            metadata.language_info = LanguageInfo(name=language)
    cells: list[Cell] = []
    used: set[str] = set()
    for shadow_cell in shadow.cells:
        cell_id = shadow_cell.id
        if not _CELL_ID.match(cell_id) or cell_id in used:
            cell_id = generate_corpus_id()
        used.add(cell_id)
        sidecar = {key: getattr(shadow_cell, key) for key in SIDECAR_KEYS}
        cells.append(
            CodeCell(
                id=cell_id,
                source=shadow_cell.source,
                execution_count=shadow_cell.execution_count,
                outputs=shadow_cell.outputs,
                metadata=CellMetadata.model_validate({"sidecar": sidecar}),
            )
        )
    return Notebook(metadata=metadata, cells=cells)


async def kernelspec_of(client: SidecarClient, kernel_id: str) -> dict[str, Any] | None:
    """{name, display_name, language} of the kernel's spec, if the server still knows it."""
    kernels = await client.get_as(KernelList, "api/sidecar/kernels")
    name = next((k.kernel_name for k in kernels.root if k.kernel_id == kernel_id), None)
    if not name:
        return None
    try:
        spec = (await client.get(f"api/kernelspecs/{name}")).get("spec") or {}
    except CLIError:  # a kernel of an earlier run whose spec is gone
        return {"name": name, "display_name": name}
    kernelspec = {"name": name, "display_name": spec.get("display_name") or name}
    if spec.get("language"):
        kernelspec["language"] = spec["language"]
    return kernelspec


def write_file(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise CLIError(f"cannot write {path}: {error}") from None


class NotebookApp(ServerCommand):
    """`jupyter sidecar notebook`."""

    name = "jupyter-sidecar-notebook"
    description = """Write a kernel's recorded executions as a .ipynb notebook (stdout by default).

    The outputs are the server's copy: what the notebook showed, even if no browser was open.
    --json prints the server's shadow notebook payload instead."""
    examples = """
    jupyter sidecar notebook 3f2a -o recovered.ipynb
    """

    output = Unicode("", config=True, help="Write the notebook to this file (default: stdout).")
    aliases = {**SERVER_ALIASES, "o": "NotebookApp.output", "output": "NotebookApp.output"}

    async def run(self) -> int:
        import nbformat

        (kernel_id,) = self.positional("KERNEL_ID")
        client = self.client()
        try:
            kernel_id = await client.resolve_kernel(kernel_id)
            shadow = await client.get_as(ShadowNotebook, kernel_path(kernel_id, "notebook"))
            kernelspec = await kernelspec_of(client, kernel_id)
        finally:
            client.close()
        if self.json_output:
            print_json(shadow)
            return 0
        notebook = build_notebook(shadow, kernelspec)
        text = nbformat.writes(nbformat.from_dict(notebook.to_dict())) + "\n"
        if not self.output:
            sys.stdout.write(text)
            return 0
        write_file(self.output, text)
        print(f"wrote {len(notebook.cells)} cell(s) to {self.output}", file=sys.stderr)
        return 0
