"""`jupyter sidecar kernels`: the kernels the server's sidecar knows, as a table or JSON."""

from __future__ import annotations

from typing import Any

from .common import ServerCommand, one_line, print_json, print_table

HEADERS = ("KERNEL_ID", "STATE", "PATH", "CELLS", "QUEUED", "LAST_ACTIVITY")


def kernel_row(kernel: dict[str, Any]) -> tuple[str, ...]:
    state = str(kernel.get("execution_state") or "")
    if not kernel.get("alive", True) and state != "gone":
        state = f"{state} (gone)"
    return (
        str(kernel.get("kernel_id", "")),
        state,
        one_line(kernel.get("path") or "-", 40),
        str(kernel.get("cells", 0)),
        str(kernel.get("queued", 0)),
        str(kernel.get("last_activity") or "-"),
    )


class KernelsApp(ServerCommand):
    """`jupyter sidecar kernels`."""

    name = "jupyter-sidecar-kernels"
    description = """List the kernels the sidecar records: state, notebook path, cells, queue.

    Kernels of earlier server runs whose cells are stored show the state "gone".
    --json prints the server's GET /api/sidecar/kernels payload."""
    examples = """
    jupyter sidecar kernels
    jupyter sidecar kernels --json --url http://127.0.0.1:8888/ --token $TOKEN
    """

    async def run(self) -> int:
        self.positional("no arguments", count=0)
        client = self.client()
        try:
            kernels = await client.get("api/sidecar/kernels")
        finally:
            client.close()
        if self.json_output:
            print_json(kernels)
        elif not kernels:
            print("no kernels")
        else:
            print_table(HEADERS, [kernel_row(k) for k in kernels])
        return 0
