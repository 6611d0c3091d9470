"""`jupyter sidecar execute`: through the server (streamed NDJSON) and straight to a kernel
through its connection file (`--existing`), with real kernels."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.connect import write_connection_file
from jupyter_client.manager import KernelManager

from jupyter_sidecar_ext.cli.common import ServerCommand
from jupyter_sidecar_ext.cli.execute import ExecuteApp

Capture = pytest.CaptureFixture[str]
CLI_LINE = re.compile(r"^(error: |warning: )")
CODE = "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n6 * 7"


async def run_cli(
    capsys: Capture, app_class: type[ServerCommand], *argv: str
) -> tuple[int, str, str]:
    """Run one command in-process, on the test's event loop: (exit status, stdout, stderr).
    stderr holds the server's log too: look for the CLI's lines with cli_errors()."""
    capsys.readouterr()
    app = app_class()
    app.initialize(list(argv))
    status = await app.main()
    out, err = capsys.readouterr()
    return status, out, err


def cli_errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if CLI_LINE.match(line)]


@pytest.fixture
def kernel_id(sc_start_kernel: Callable[..., Awaitable[str]], jp_asyncio_loop: Any) -> str:
    kernel: str = jp_asyncio_loop.run_until_complete(sc_start_kernel())
    return kernel


async def test_streams_results_and_exit_status(
    capsys: Capture, server_args: list[str], kernel_id: str, sc_cell_finished: Any
) -> None:
    status, out, err = await run_cli(capsys, ExecuteApp, *server_args, kernel_id, CODE)
    assert status == 0
    assert out == "to stdout\nOut[1]: 42\n"
    assert "to stderr\n" in err and cli_errors(err) == []
    status, out, err = await run_cli(
        capsys, ExecuteApp, *server_args, kernel_id[:6], "1 / 0", "--cell-id=bad"
    )
    assert status == 1 and out == ""
    assert "ZeroDivisionError" in err and "\x1b[" not in err  # no colours into a pipe
    cell = await sc_cell_finished(kernel_id, "bad")  # recorded under the cell id asked for
    assert cell["status"] == "error" and cell["source"] == "1 / 0"


async def test_json_and_file(
    capsys: Capture, server_args: list[str], kernel_id: str, tmp_path: Path
) -> None:
    script = tmp_path / "script.py"
    script.write_text("for i in range(3):\n    print(i)\n'done'\n")
    status, out, _ = await run_cli(
        capsys, ExecuteApp, *server_args, kernel_id, "--file", str(script), "--json"
    )
    result = json.loads(out)
    assert status == 0 and result["status"] == "ok" and result["msg_id"]
    assert result["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "0\n1\n2\n"},
        {
            "output_type": "execute_result",
            "execution_count": 1,
            "data": {"text/plain": "'done'"},
            "metadata": {},
        },
    ]
    status, out, _ = await run_cli(capsys, ExecuteApp, *server_args, kernel_id, "x", "--json")
    result = json.loads(out)
    assert status == 1 and result["status"] == "error"
    assert result["outputs"][0]["ename"] == "NameError"


async def test_timeout_and_errors(capsys: Capture, server_args: list[str], kernel_id: str) -> None:
    # The timeout interrupts only a cell the kernel has started (else it is left to run): the
    # kernel is up and idle first, and the timeout leaves room for the start under load.
    assert (await run_cli(capsys, ExecuteApp, *server_args, kernel_id, "None"))[0] == 0
    code = "import time\nprint('started', flush=True)\ntime.sleep(60)"
    status, _, err = await run_cli(capsys, ExecuteApp, *server_args, kernel_id, code, "--timeout=5")
    assert status == 1 and len(cli_errors(err)) == 1, err
    status, out, _ = await run_cli(capsys, ExecuteApp, *server_args, kernel_id, "'usable'")
    assert status == 0 and out.endswith(": 'usable'\n")  # interrupted, not stuck
    unknown = "00000000-0000-0000-0000-000000000000"
    status, _, err = await run_cli(capsys, ExecuteApp, *server_args, unknown, "1")
    assert status == 1 and cli_errors(err) == [
        f"error: POST api/sidecar/kernels/{unknown}/execute: Kernel not found: {unknown} (HTTP 404)"
    ]
    status, _, err = await run_cli(capsys, ExecuteApp, *server_args, kernel_id)
    assert status == 2 and cli_errors(err) == [
        "error: give the code to run as one argument (or --file)"
    ]


@pytest.fixture
def connection_file(tmp_path: Path) -> Iterator[Path]:
    """A kernel started by jupyter_client, no server involved."""
    path = tmp_path / "kernel-cli.json"
    manager = KernelManager(connection_file=str(path))
    manager.start_kernel()
    try:
        yield path
    finally:
        manager.shutdown_kernel(now=True)


@pytest.fixture
def starting_kernel(tmp_path: Path) -> Iterator[Path]:
    """The connection file of a kernel that takes seconds to start (its launcher waits 3 s
    first, as a kernel on a loaded machine may take): it answers no heartbeat meanwhile."""
    path = tmp_path / "kernel-starting.json"
    write_connection_file(str(path))
    launch = (
        "import time; time.sleep(3); "
        "from ipykernel.kernelapp import launch_new_instance; launch_new_instance()"
    )
    process = subprocess.Popen([sys.executable, "-c", launch, "-f", str(path)])
    try:
        yield path
    finally:
        process.kill()
        process.wait(30)


async def test_existing_waits_for_a_kernel_still_starting(
    capsys: Capture, starting_kernel: Path
) -> None:
    """jupyter_client's heartbeat says a kernel is dead after 1 s without an answer: right
    after a launch, --existing failed with 'Kernel died before replying to kernel_info'."""
    status, out, err = await run_cli(capsys, ExecuteApp, "--existing", str(starting_kernel), CODE)
    assert status == 0 and out == "to stdout\nOut[1]: 42\n", cli_errors(err)


async def test_existing_connection_file(capsys: Capture, connection_file: Path) -> None:
    status, out, err = await run_cli(capsys, ExecuteApp, "--existing", str(connection_file), CODE)
    assert status == 0 and out == "to stdout\nOut[1]: 42\n" and "to stderr\n" in err
    status, out, _ = await run_cli(
        capsys, ExecuteApp, "--connection-file", str(connection_file), "print('a')\n1/0", "--json"
    )
    result = json.loads(out)
    assert status == 1 and result["status"] == "error" and result["execution_count"] == 2
    assert [o["output_type"] for o in result["outputs"]] == ["stream", "error"]
    assert result["outputs"][0]["text"] == "a\n"
    status, _, err = await run_cli(capsys, ExecuteApp, "--existing", "nope.json", "1")
    assert status == 1 and cli_errors(err)[0].startswith("error: no connection file 'nope.json'")


ASKS = "name = input('name? ')\nimport getpass\ntoken = getpass.getpass('token: ')\n"
ASKS += "print('hello', name, len(token))"


@pytest.mark.parametrize("mode", ["stream", "json"])
async def test_input_is_asked_on_the_terminal_and_reaches_the_kernel(
    mode: str,
    server_args: list[str],
    kernel_id: str,
    jupyter_sidecar: Any,
    sc_cell_finished: Any,
) -> None:
    json_flag = ["--json"] if mode == "json" else []
    process = await jupyter_sidecar(
        "execute", kernel_id, ASKS, "--cell-id=asks", *json_flag, *server_args, stdin=True
    )
    out, err = await asyncio.wait_for(process.communicate(b"Ada\nhunter2\n"), 120)
    assert process.returncode == 0, err.decode()
    assert b"name? " in err and b"token: " in err and b"hunter2" not in err + out
    if mode == "json":
        result = json.loads(out)
        assert result["status"] == "ok"
        assert result["outputs"][0]["text"] == "hello Ada 7\n"
    else:
        assert out == b"hello Ada 7\n"
    cell = await sc_cell_finished(kernel_id, "asks")
    assert cell["input_request"] is None and cell["status"] == "ok"


async def test_input_is_asked_with_existing_too(
    connection_file: Path, jupyter_sidecar: Any
) -> None:
    code = "print('got', input('name? '))"
    process = await jupyter_sidecar("execute", "--existing", str(connection_file), code, stdin=True)
    out, err = await asyncio.wait_for(process.communicate(b"Ada\n"), 120)
    assert process.returncode == 0, err.decode()
    assert out == b"got Ada\n" and b"name? " in err
