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

from .client import CLIError, SidecarClient, kernel_path
from .common import SERVER_ALIASES, ServerCommand, print_json

_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
SIDECAR_KEYS = ("id", "msg_id", "status", "started", "ended", "truncated", "run", "stale", "gap")


def build_notebook(shadow: dict[str, Any], kernelspec: dict[str, Any] | None) -> Any:
    """An nbformat NotebookNode (validated) of the shadow notebook payload."""
    import nbformat
    from nbformat.corpus.words import generate_corpus_id

    metadata: dict[str, Any] = {
        "sidecar": {"kernel_id": shadow.get("kernel_id"), "seq": shadow.get("seq")}
    }
    if kernelspec:
        metadata["kernelspec"] = kernelspec
        language = kernelspec.get("language")
        if language:
            metadata["language_info"] = {"name": language}
    notebook = nbformat.v4.new_notebook(metadata=metadata)
    used: set[str] = set()
    for shadow_cell in shadow.get("cells") or []:
        cell_id = str(shadow_cell.get("id") or "")
        if not _CELL_ID.match(cell_id) or cell_id in used:
            cell_id = generate_corpus_id()
        used.add(cell_id)
        cell = nbformat.v4.new_code_cell(
            source=shadow_cell.get("source") or "",
            id=cell_id,
            execution_count=shadow_cell.get("execution_count"),
            outputs=[nbformat.from_dict(o) for o in shadow_cell.get("outputs") or []],
            metadata={"sidecar": {k: shadow_cell.get(k) for k in SIDECAR_KEYS}},
        )
        notebook.cells.append(cell)
    try:
        nbformat.validate(notebook)
    except nbformat.ValidationError as error:
        first = str(error).strip().splitlines()[0]
        raise CLIError(f"the recorded notebook is not valid nbformat: {first}") from None
    return notebook


async def kernelspec_of(client: SidecarClient, kernel_id: str) -> dict[str, Any] | None:
    """{name, display_name, language} of the kernel's spec, if the server still knows it."""
    kernels = await client.get("api/sidecar/kernels")
    name = next(
        (k.get("kernel_name") for k in kernels if k.get("kernel_id") == kernel_id),
        None,
    )
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
            shadow = await client.get(kernel_path(kernel_id, "notebook"))
            kernelspec = await kernelspec_of(client, kernel_id)
        finally:
            client.close()
        if self.json_output:
            print_json(shadow)
            return 0
        notebook = build_notebook(shadow, kernelspec)
        text = nbformat.writes(notebook) + "\n"
        if not self.output:
            sys.stdout.write(text)
            return 0
        write_file(self.output, text)
        print(f"wrote {len(notebook.cells)} cell(s) to {self.output}", file=sys.stderr)
        return 0
