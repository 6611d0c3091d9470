"""What every `jupyter sidecar` command that talks to a server shares.

`--url`, `--token` and `--json`, one event loop per run, and one exit convention: 0 done,
1 a failure (printed as one `error: ...` line on stderr), 2 a usage error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from jupyter_core.application import JupyterApp, base_aliases, base_flags
from pydantic import BaseModel
from traitlets import Bool, Float, Unicode

from .client import CLIError, SidecarClient, find_server

SERVER_ALIASES = {
    **base_aliases,
    "url": "ServerCommand.url",
    "token": "ServerCommand.token",
    "request-timeout": "ServerCommand.request_timeout",
}
JSON_FLAGS = {
    **base_flags,
    "json": ({"ServerCommand": {"json_output": True}}, "Print machine-readable JSON."),
}


class ServerCommand(JupyterApp):
    """Base of the commands that ask a running server (subclasses implement `run`)."""

    url = Unicode(
        "",
        config=True,
        help="The server's URL including its base_url (default: the one running server, "
        "as `jupyter server list` finds it).",
    )
    token = Unicode(
        "",
        config=True,
        help="The server's token (default: $JUPYTER_TOKEN, or the one the running server "
        "wrote into its runtime file).",
    )
    request_timeout = Float(60.0, config=True, help="Seconds one HTTP request may take.")
    json_output = Bool(False, config=True, help="Print machine-readable JSON.")

    aliases = SERVER_ALIASES
    flags = JSON_FLAGS

    #: exit status when interrupted with Ctrl+C
    interrupt_status = 130

    def start(self) -> None:
        try:
            status = asyncio.run(self.main())
        except KeyboardInterrupt:
            status = self.interrupt_status
        except BrokenPipeError:  # `... | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            status = 0
        self.exit(status)

    async def main(self) -> int:
        """Run the command; failures become one line on stderr and the exit status."""
        try:
            return await self.run()
        except CLIError as error:
            print(f"error: {error}", file=sys.stderr)
            return error.status

    async def run(self) -> int:
        raise NotImplementedError

    def client(self) -> SidecarClient:
        return SidecarClient(find_server(self.url, self.token), self.request_timeout)

    def positional(self, what: str, count: int = 1) -> list[str]:
        """The command's positional arguments: exactly `count`, or a usage error."""
        args = list(self.extra_args)
        if len(args) != count:
            raise CLIError(f"give {what} (see --help)", status=2)
        return args


def print_json(payload: Any) -> None:
    """`payload` as indented JSON; an API model as the server sent it."""
    if isinstance(payload, BaseModel):
        payload = payload.model_dump(mode="json", exclude_unset=True)
    print(json.dumps(payload, indent=1))


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns, as `jupyter server list` / `docker ps` print them."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    for line in [headers, *rows]:
        text = "  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True))
        print(text.rstrip())


def one_line(text: Any, width: int) -> str:
    """`text` on one line, cut to `width` characters with an ellipsis."""
    flat = " ".join(str(text).split()) if text is not None else ""
    return flat if len(flat) <= width else flat[: max(0, width - 1)] + "…"
