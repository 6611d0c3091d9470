"""`jupyter sidecar variables`: a kernel's variables from the sidecar's cache (or one, rich)."""

from __future__ import annotations

import sys
from typing import Any

from ..schemas.api import RichVariable, Variable, VariablesSnapshot
from .client import CLIError, kernel_path
from .common import ServerCommand, one_line, print_json, print_table
from .render import ConsoleWriter

HEADERS = ("NAME", "TYPE", "SHAPE", "SIZE", "VALUE")
VALUE_WIDTH = 60


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(str(v) for v in value) + ")"
    return one_line(value, VALUE_WIDTH)


def variable_row(variable: Variable) -> tuple[str, ...]:
    v = variable
    return tuple(_cell(value) for value in (v.name, v.type, v.shape, v.size, v.value))


def snapshot_note(snapshot: VariablesSnapshot) -> str:
    """One line on the snapshot's freshness, or "" when it is ok and current."""
    if snapshot.state == "pending":
        return "no snapshot yet (the sidecar takes one after the next execution)"
    if snapshot.state != "ok":
        return f"variables unavailable: {snapshot.reason or snapshot.state}"
    notes = []
    if snapshot.stale:
        notes.append("stale: the kernel ran code since")
    if snapshot.truncated:
        notes.append(f"{len(snapshot.variables)} of {snapshot.count} shown")
    return "; ".join(notes)


class VariablesApp(ServerCommand):
    """`jupyter sidecar variables`."""

    name = "jupyter-sidecar-variables"
    description = """Show a kernel's variables from the sidecar's cache (never waits on the kernel).

    With NAME, show that variable's display (text/plain) asked of the kernel now.
    --json prints the server's payload."""
    examples = """
    jupyter sidecar variables 3f2a
    jupyter sidecar variables 3f2a df --json
    """

    async def run(self) -> int:
        args = list(self.extra_args)
        if len(args) not in (1, 2):
            raise CLIError("give KERNEL_ID and optionally a variable NAME", status=2)
        client = self.client()
        try:
            kernel_id = await client.resolve_kernel(args[0])
            path = kernel_path(kernel_id, "variables", *args[1:])
            payload: RichVariable | VariablesSnapshot
            if len(args) == 2:
                payload = await client.get_as(RichVariable, path)
            else:
                payload = await client.get_as(VariablesSnapshot, path)
        finally:
            client.close()
        if self.json_output:
            print_json(payload)
        elif isinstance(payload, RichVariable):
            ConsoleWriter().output({"output_type": "display_data", "data": payload.data})
            if payload.truncated:
                print("(truncated)", file=sys.stderr)
        else:
            if payload.variables:
                print_table(HEADERS, [variable_row(v) for v in payload.variables])
            note = snapshot_note(payload)
            if note or not payload.variables:
                print(note or "no variables", file=sys.stderr)
        return 0
