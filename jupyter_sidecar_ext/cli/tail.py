"""`jupyter sidecar tail`: print a kernel's recorded outputs, then follow new ones live.

Lossless by construction: the data always comes from `GET .../notebook?since=SEQ` (every
change bumps the cell's seq), and the event bus (`cell_changed`, subscribed *before* the first
fetch) only says when to fetch again. A lost or coalesced event costs nothing: the next fetch
returns every cell changed since, and a fetch also happens every `--poll-interval` seconds
without events. Each output is printed once; a stream that grows prints only its new text.
Everything goes to stdout, tracebacks included: one ordered transcript of the kernel.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

from traitlets import Bool, Float

from ..events import CELL_CHANGED_SCHEMA
from ..schemas.api import ShadowCell, ShadowNotebook
from .client import CLIError, SidecarClient, kernel_path
from .common import JSON_FLAGS, SERVER_ALIASES, ServerCommand
from .render import ConsoleWriter, render


class CellPrinter:
    """What has been printed of each cell (by msg_id: a re-run is a new block)."""

    def __init__(self, writer: ConsoleWriter, json_lines: bool, following: bool = False) -> None:
        self.writer = writer
        self.json_lines = json_lines
        self.following = following  # a cell not started yet shows once it starts
        self._printed: dict[str, list[tuple[str, str]]] = {}

    def show(self, cell: ShadowCell) -> None:
        if self.json_lines:
            line = json.dumps(cell.model_dump(mode="json", exclude_unset=True))
            self.writer.write("stdout", line + "\n")
            return
        key = cell.msg_id or cell.id
        printed = self._printed.get(key)
        if printed is None and self.following and not_started(cell):
            return  # printed once the kernel gives it its number, as IPython shows it
        if printed is None:
            printed = self._printed[key] = []
            self.writer.write("stdout", header(cell))
        rendered = [render(output.to_dict()) for output in cell.outputs]
        for index, (name, text) in enumerate(rendered):
            before = printed[index][1] if index < len(printed) else None
            if before == text:
                continue
            if before is not None and printed[index][0] == name and text.startswith(before):
                self.writer.write(name, text[len(before) :])  # a stream that grew
            else:
                self.writer.write(name, text)
        self._printed[key] = rendered


def not_started(cell: ShadowCell) -> bool:
    """Whether the kernel has not yet numbered a cell that will run (it has nothing to show)."""
    return (
        cell.execution_count is None and cell.status in ("queued", "running") and not cell.outputs
    )


def header(cell: ShadowCell) -> str:
    """`In [n]: source`, continuation lines indented as IPython does."""
    count = cell.execution_count
    prompt = f"In [{count if count is not None else ' '}]: "
    lines = cell.source.splitlines() or [""]
    continuation = " " * (len(prompt) - 5) + "...: "
    return prompt + lines[0] + "\n" + "".join(continuation + line + "\n" for line in lines[1:])


class TailApp(ServerCommand):
    """`jupyter sidecar tail`."""

    name = "jupyter-sidecar-tail"
    description = """Print a kernel's recorded outputs, then follow new outputs as they arrive.

    Ctrl+C stops (exit 0); so does the kernel shutting down. With --json, one line per cell
    change: the cell as GET .../cells/{cell_id} returns it (a ShadowCell)."""
    examples = """
    jupyter sidecar tail 3f2a
    jupyter sidecar tail 3f2a --once --json
    """

    once = Bool(False, config=True, help="Print what is recorded and exit (do not follow).")
    poll_interval = Float(
        5.0,
        config=True,
        help="Seconds between fetches when no event arrives (the event bus is the fast path).",
    )
    aliases = {**SERVER_ALIASES, "poll-interval": "TailApp.poll_interval"}
    flags = {
        **JSON_FLAGS,
        "once": ({"TailApp": {"once": True}}, once.help),
        "no-follow": ({"TailApp": {"once": True}}, once.help),
    }

    interrupt_status = 0

    def initialize(self, argv: Any = None) -> None:
        super().initialize(argv)
        self._stop = asyncio.Event()
        #: set once the subscription is open and the recorded outputs are printed
        self.following = asyncio.Event()

    def stop(self) -> None:
        """Stop following (as Ctrl+C does); run() returns 0."""
        self._stop.set()

    async def run(self) -> int:
        (kernel_id,) = self.positional("KERNEL_ID")
        printer = CellPrinter(ConsoleWriter(merge=True), self.json_output, not self.once)
        client = self.client()
        try:
            kernel_id = await client.resolve_kernel(kernel_id)
            await self._tail(client, kernel_id, printer)
        finally:
            client.close()
        return 0

    async def _tail(self, client: SidecarClient, kernel_id: str, printer: CellPrinter) -> None:
        events = None if self.once else await self._subscribe(client)
        try:
            seq, alive = await self._fetch(client, kernel_id, 0, printer)
            self.following.set()
            if self.once or not alive:
                return
            if not self.json_output:
                print(f"following kernel {kernel_id} (Ctrl+C to stop)", file=sys.stderr)
            stopped = asyncio.ensure_future(self._stop.wait())
            reading: asyncio.Future[Any] | None = None
            try:
                while not self._stop.is_set():
                    if events is not None and reading is None:
                        reading = asyncio.ensure_future(events.read_message())
                    waiting = {stopped} if reading is None else {stopped, reading}
                    done, _ = await asyncio.wait(
                        waiting, timeout=self.poll_interval, return_when=asyncio.FIRST_COMPLETED
                    )
                    if stopped in done:
                        break
                    if reading is not None and reading in done:
                        message = reading.result()
                        reading = None
                        if message is None:
                            raise CLIError("the server closed the event stream")
                        if not is_news(message, kernel_id, seq):
                            continue
                    seq, alive = await self._fetch(client, kernel_id, seq, printer)
                    if not alive:
                        print(f"kernel {kernel_id} is gone", file=sys.stderr)
                        break
            finally:
                stopped.cancel()
                if reading is not None:
                    reading.cancel()
        finally:
            if events is not None:
                events.close()

    async def _subscribe(self, client: SidecarClient) -> Any:
        """The event bus websocket; None (poll only) when this user may not read events."""
        try:
            return await client.subscribe_events()
        except CLIError as error:
            if "HTTP 403" not in str(error) and "HTTP 404" not in str(error):
                raise
            print(f"warning: no event stream ({error}); polling", file=sys.stderr)
            return None

    async def _fetch(
        self, client: SidecarClient, kernel_id: str, since: int, printer: CellPrinter
    ) -> tuple[int, bool]:
        """Print the cells changed after `since`: (the notebook's seq, kernel alive)."""
        path = kernel_path(kernel_id, "notebook")
        payload = await client.get_as(ShadowNotebook, path, {"since": since} if since else None)
        if payload.seq < since:  # the numbering restarted (a server restart): take it all again
            payload = await client.get_as(ShadowNotebook, path)
        for cell in payload.cells:  # first-execution order
            printer.show(cell)
        return payload.seq, payload.alive


def is_news(message: str | bytes, kernel_id: str, seq: int) -> bool:
    """Whether an event says a cell of this kernel changed after `seq`."""
    try:
        event = json.loads(message)
    except (ValueError, UnicodeDecodeError):
        return False
    return (
        isinstance(event, dict)
        and event.get("schema_id") == CELL_CHANGED_SCHEMA
        and event.get("kernel_id") == kernel_id
        and isinstance(event.get("seq"), int)
        and event["seq"] > seq
    )
