"""`jupyter sidecar tail`: recorded outputs once, then live ones, each printed once; in-process
and as `jupyter sidecar tail` stopped with Ctrl+C (exit 0)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from jupyter_sidecar_ext.cli.render import ConsoleWriter
from jupyter_sidecar_ext.cli.tail import CellPrinter, TailApp
from jupyter_sidecar_ext.schemas.api import ShadowCell

Capture = pytest.CaptureFixture[str]
CLI_LINE = re.compile(r"^(error: |warning: |following )")
PROGRESS = "import sys, time\nfor i in range(3):\n    print('line', i, flush=True)\n'done'"


def tail_app(*argv: str) -> TailApp:
    app = TailApp()
    app.initialize(list(argv))
    return app


async def recorded_kernel(
    sc_start_kernel: Callable[..., Awaitable[str]], sc_connect: Any, sc_cell_finished: Any
) -> tuple[str, Any]:
    """A kernel with two finished cells, and a websocket client to run more."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await client.collect(await client.execute("print('hello')\n1 + 1", cell_id="a"))
    await client.collect(await client.execute("1 / 0", cell_id="b"))
    await sc_cell_finished(kernel_id, "b")
    return kernel_id, client


async def test_once_human_and_json(
    capsys: Capture,
    server_args: list[str],
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_connect: Any,
    sc_cell_finished: Any,
) -> None:
    kernel_id, _ = await recorded_kernel(sc_start_kernel, sc_connect, sc_cell_finished)
    capsys.readouterr()
    assert await tail_app(*server_args, kernel_id[:8], "--once").main() == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "In [1]: print('hello')\n   ...: 1 + 1\nhello\nOut[1]: 2\nIn [2]: 1 / 0\n"
    )
    assert out.rstrip().endswith("ZeroDivisionError: division by zero")
    assert await tail_app(*server_args, kernel_id, "--no-follow", "--json").main() == 0
    cells = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(c["id"], c["status"]) for c in cells] == [("a", "ok"), ("b", "error")]


async def test_follows_a_new_cell(
    capsys: Capture,
    server_args: list[str],
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_connect: Any,
    sc_cell_finished: Any,
    sc_wait_until: Callable[..., Awaitable[None]],
) -> None:
    kernel_id, client = await recorded_kernel(sc_start_kernel, sc_connect, sc_cell_finished)
    capsys.readouterr()
    app = tail_app(*server_args, kernel_id)
    running = asyncio.ensure_future(app.main())
    await asyncio.wait_for(app.following.wait(), 30)  # subscribed, recorded outputs printed
    await client.collect(await client.execute(PROGRESS, cell_id="c"))
    await sc_cell_finished(kernel_id, "c")
    printed: list[str] = []

    def shown(text: str) -> Callable[[], bool]:
        def check() -> bool:
            printed.append(capsys.readouterr().out)
            return text in "".join(printed)

        return check

    await sc_wait_until(shown("Out[3]: 'done'\n"), timeout=30, what="the new cell's result")
    app.stop()
    assert await asyncio.wait_for(running, 30) == 0
    printed.append(capsys.readouterr().out)
    transcript = "".join(printed)
    new = transcript[transcript.index("In [3]") :]
    assert new == (
        "In [3]: import sys, time\n"
        "   ...: for i in range(3):\n"
        "   ...:     print('line', i, flush=True)\n"
        "   ...: 'done'\n"
        "line 0\nline 1\nline 2\n"
        "Out[3]: 'done'\n"
    )  # each line once, though the stream grew over several events
    assert transcript.count("hello\n") == 1  # the recorded cells are not printed again


async def test_unknown_kernel(capsys: Capture, server_args: list[str]) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    capsys.readouterr()
    assert await tail_app(*server_args, unknown).main() == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if CLI_LINE.match(line)]
    assert errors == [
        f"error: GET api/sidecar/kernels/{unknown}/notebook: Kernel not found: {unknown} (HTTP 404)"
    ]


async def read_until(stream: asyncio.StreamReader, text: str, seen: list[str]) -> None:
    """Read lines until one starts with `text` (bounded by the caller's wait_for)."""
    while True:
        line = (await stream.readline()).decode()
        if not line:
            raise EOFError(f"stream ended before {text!r}; read {seen}")
        seen.append(line)
        if line.startswith(text):
            return


async def test_jupyter_sidecar_tail_ctrl_c(
    server_args: list[str],
    jupyter_sidecar: Any,
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_connect: Any,
    sc_cell_finished: Any,
) -> None:
    """`jupyter sidecar tail` as users run it: live output, then Ctrl+C exits 0."""
    kernel_id, client = await recorded_kernel(sc_start_kernel, sc_connect, sc_cell_finished)
    process = await jupyter_sidecar("tail", kernel_id, *server_args)
    assert process.stdout is not None and process.stderr is not None
    out: list[str] = []
    err: list[str] = []
    try:
        await asyncio.wait_for(read_until(process.stderr, "following kernel", err), 120)
        await client.collect(await client.execute("print('live')", cell_id="d"))
        await asyncio.wait_for(read_until(process.stdout, "live\n", out), 30)
        process.send_signal(signal.SIGINT)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert out[:2] == ["In [1]: print('hello')\n", "   ...: 1 + 1\n"]
    assert out[-2:] == ["In [3]: print('live')\n", "live\n"]


def _cell(status: str, count: int | None) -> ShadowCell:
    return ShadowCell(
        id="c", msg_id="m", source="print('live')", status=status, execution_count=count,
        outputs=[], started=None, ended=None, seq=1,
    )  # fmt: skip


@pytest.mark.parametrize(("following", "first_line"), [(True, "In [3]"), (False, "In [ ]")])
def test_a_cell_seen_before_it_starts(capsys: Capture, following: bool, first_line: str) -> None:
    """Following, a queued cell is printed once the kernel numbers it (as IPython shows it);
    --once prints what is there."""
    printer = CellPrinter(ConsoleWriter(merge=True), json_lines=False, following=following)
    printer.show(_cell("queued", None))
    printer.show(_cell("running", 3))
    assert capsys.readouterr().out.startswith(f"{first_line}: print('live')\n")
