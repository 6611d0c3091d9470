"""`jupyter sidecar kernels`: the kernels the server's sidecar knows, as a table or JSON."""

from __future__ import annotations

from ..schemas.api import KernelList, KernelSummary
from .common import ServerCommand, one_line, print_json, print_table

HEADERS = ("KERNEL_ID", "STATE", "PATH", "CELLS", "QUEUED", "LAST_ACTIVITY")


def kernel_row(kernel: KernelSummary) -> tuple[str, ...]:
    state = kernel.execution_state or ""
    if not kernel.alive and state != "gone":
        state = f"{state} (gone)"
    return (
        kernel.kernel_id,
        state,
        one_line(kernel.path or "-", 40),
        str(kernel.cells),
        str(kernel.queued),
        kernel.last_activity or "-",
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
            kernels = await client.get_as(KernelList, "api/sidecar/kernels")
        finally:
            client.close()
        if self.json_output:
            print_json(kernels)
        elif not kernels.root:
            print("no kernels")
        else:
            print_table(HEADERS, [kernel_row(k) for k in kernels.root])
        return 0
