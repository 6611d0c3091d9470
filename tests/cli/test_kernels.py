"""`jupyter sidecar kernels / variables / notebook` against a real server and real kernels,
finding the server, and the one-line errors (bad token, unknown kernel, no server)."""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_sidecar_ext.cli.common import ServerCommand
from jupyter_sidecar_ext.cli.kernels import KernelsApp
from jupyter_sidecar_ext.cli.notebook import NotebookApp
from jupyter_sidecar_ext.cli.variables import VariablesApp

Capture = pytest.CaptureFixture[str]
CLI_LINE = re.compile(r"^(error: |warning: |wrote |following |kernel |no |\()")


async def run_cli(
    capsys: Capture, app_class: type[ServerCommand], *argv: str
) -> tuple[int, str, str]:
    """Run one command in-process, on the test's event loop: (exit status, stdout, stderr),
    without the server's log lines (the server shares the process)."""
    capsys.readouterr()
    app = app_class()
    app.initialize(list(argv))
    status = await app.main()
    out, err = capsys.readouterr()
    return status, out, without_server_log(err)


def without_server_log(err: str) -> str:
    """The CLI's own stderr lines (the server's log and logging errors left out)."""
    lines = err.splitlines(keepends=True)
    return "".join(line for line in lines if CLI_LINE.match(line))


@pytest.fixture
def server_file(
    jp_serverapp: Any, jp_http_port: int, jp_base_url: str, jp_runtime_dir: Path, jp_fetch: Any
) -> Path:
    """The runtime info file `jupyter server list` reads, as the server writes it on start."""
    info = {
        "pid": os.getpid(),
        "url": f"http://127.0.0.1:{jp_http_port}{jp_base_url}",
        "token": jp_serverapp.identity_provider.token,
        "base_url": jp_base_url,
    }
    path = jp_runtime_dir / f"jpserver-{os.getpid()}.json"
    path.write_text(json.dumps(info))
    return path


async def run_cell(sc_connect: Any, kernel_id: str, code: str, cell_id: str) -> None:
    client = await sc_connect(kernel_id)
    await client.collect(await client.execute(code, cell_id=cell_id))


async def test_kernels_table_and_json(
    capsys: Capture,
    server_args: list[str],
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_connect: Any,
    sc_cell_finished: Any,
) -> None:
    kernel_id = await sc_start_kernel(path="work/analysis.ipynb")
    await run_cell(sc_connect, kernel_id, "x = 1", "c1")
    await sc_cell_finished(kernel_id, "c1")
    status, out, _ = await run_cli(capsys, KernelsApp, *server_args)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].split() == ["KERNEL_ID", "STATE", "PATH", "CELLS", "QUEUED", "LAST_ACTIVITY"]
    row = next(line for line in lines if line.startswith(kernel_id)).split()
    assert row[2:5] == ["work/analysis.ipynb", "1", "0"] and row[1] in ("idle", "busy")
    status, out, _ = await run_cli(capsys, KernelsApp, *server_args, "--json")
    kernels = json.loads(out)
    mine = next(k for k in kernels if k["kernel_id"] == kernel_id)
    assert mine["path"] == "work/analysis.ipynb" and mine["cells"] == 1 and mine["alive"]


async def test_variables_table_json_and_one(
    capsys: Capture,
    server_args: list[str],
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_connect: Any,
    jp_fetch: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    await run_cell(sc_connect, kernel_id, "answer = 42\nwords = ['a', 'b', 'c']", "v1")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:  # the snapshot is taken after the cell: poll the cache (bounded)
        response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables")
        payload = json.loads(response.body)
        if payload["state"] == "ok" and payload["execution_count"] == 1:  # after the cell
            break
        assert loop.time() < deadline, "no variable snapshot"
        await asyncio.sleep(0.05)
    status, out, _ = await run_cli(capsys, VariablesApp, *server_args, kernel_id[:8])
    assert status == 0
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["answer"][1] == "int" and rows["answer"][-1] == "42"
    assert rows["words"][1] == "list" and out.splitlines()[0].startswith("NAME")
    status, out, _ = await run_cli(capsys, VariablesApp, *server_args, kernel_id, "--json")
    payload = json.loads(out)
    assert status == 0 and payload["kernel_id"] == kernel_id and payload["state"] == "ok"
    assert {"answer", "words"} <= {v["name"] for v in payload["variables"]}
    status, out, _ = await run_cli(capsys, VariablesApp, *server_args, kernel_id, "words")
    assert status == 0 and out == "['a', 'b', 'c']\n"
    status, _, err = await run_cli(capsys, VariablesApp, *server_args, kernel_id, "missing")
    assert status == 1 and err == "error: GET api/sidecar/kernels/" + kernel_id + (
        "/variables/missing: Variable not found: missing (HTTP 404)\n"
    )


async def test_notebook_dump(
    capsys: Capture,
    server_args: list[str],
    tmp_path: Path,
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_connect: Any,
    sc_cell_finished: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await client.collect(await client.execute("print('hello')\n1 + 1", cell_id="first"))
    await client.collect(await client.execute("1 / 0", cell_id="second"))
    await client.collect(await client.execute("'no cell id'"))  # recorded under its msg_id
    await sc_cell_finished(kernel_id, "second")
    target = tmp_path / "out.ipynb"
    status, out, err = await run_cli(
        capsys, NotebookApp, *server_args, kernel_id, "-o", str(target)
    )
    assert status == 0 and out == "" and f"wrote 3 cell(s) to {target}" in err
    notebook = nbformat.read(target, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata.kernelspec.name == "python3"
    assert notebook.metadata.language_info.name == "python"
    first, second, third = notebook.cells
    assert first.id == "first" and first.source == "print('hello')\n1 + 1"
    assert [o.output_type for o in first.outputs] == ["stream", "execute_result"]
    assert first.outputs[0].text == "hello\n" and first.outputs[1].data["text/plain"] == "2"
    assert first.execution_count == 1 and first.metadata.sidecar.status == "ok"
    assert second.outputs[0].ename == "ZeroDivisionError"
    assert second.metadata.sidecar.status == "error"
    assert third.source == "'no cell id'" and third.metadata.sidecar.msg_id
    status, out, _ = await run_cli(capsys, NotebookApp, *server_args, kernel_id)
    assert status == 0 and nbformat.reads(out, as_version=4).cells[0].id == "first"
    status, out, _ = await run_cli(capsys, NotebookApp, *server_args, kernel_id, "--json")
    shadow = json.loads(out)
    assert status == 0 and [c["id"] for c in shadow["cells"][:2]] == ["first", "second"]


async def test_errors_are_one_line(
    capsys: Capture, server_args: list[str], jp_http_port: int, jp_base_url: str
) -> None:
    bad_token = [*server_args[:2], "--token", "wrong"]
    status, out, err = await run_cli(capsys, KernelsApp, *bad_token)
    assert status == 1 and out == ""
    assert err == "error: GET api/sidecar/kernels: Forbidden (HTTP 403; bad token?)\n"
    unknown = "00000000-0000-0000-0000-000000000000"
    status, _, err = await run_cli(capsys, NotebookApp, *server_args, unknown)
    assert status == 1 and err.count("\n") == 1
    assert f"Kernel not found: {unknown} (HTTP 404)" in err
    status, _, err = await run_cli(capsys, VariablesApp, *server_args, "nosuchprefix")
    assert (status, err) == (1, "error: Kernel not found: nosuchprefix\n")
    status, _, err = await run_cli(capsys, NotebookApp, *server_args)
    assert (status, err) == (2, "error: give KERNEL_ID (see --help)\n")


async def test_server_discovery(
    capsys: Capture,
    server_file: Path,
    jp_runtime_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    status, out, _ = await run_cli(capsys, KernelsApp, "--json")
    assert status == 0 and isinstance(json.loads(out), list)
    monkeypatch.setenv("JUPYTER_TOKEN", "from-env")  # wins over the runtime file's
    status, _, err = await run_cli(capsys, KernelsApp)
    assert status == 1 and "HTTP 403" in err
    monkeypatch.delenv("JUPYTER_TOKEN")
    info = json.loads(server_file.read_text())
    other = {**info, "url": "http://127.0.0.1:1/"}
    (jp_runtime_dir / "jpserver-other.json").write_text(json.dumps(other))
    status, _, err = await run_cli(capsys, KernelsApp)
    assert status == 1 and err.startswith("error: 2 Jupyter servers are running (")
    assert err.endswith("; pick one with --url\n")
    status, _, err = await run_cli(capsys, KernelsApp, "--url", "127.0.0.1:1")
    assert status == 1 and err.startswith("error: cannot reach the server at http://127.0.0.1:1/")
    assert err.count("\n") == 1
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "empty"))
    status, _, err = await run_cli(capsys, KernelsApp)
    assert status == 1
    assert err == "error: no running Jupyter server found; start one or give --url (and --token)\n"


async def test_jupyter_sidecar_entry_point(
    server_file: Path, sc_start_kernel: Callable[..., Awaitable[str]], jupyter_sidecar: Any
) -> None:
    """`jupyter sidecar kernels --json` as a subprocess finds the server as users' shells do."""
    kernel_id = await sc_start_kernel()
    process = await jupyter_sidecar("kernels", "--json")
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()
    assert kernel_id in {k["kernel_id"] for k in json.loads(out)}
