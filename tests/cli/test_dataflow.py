"""`jupyter sidecar dataflow` and `jupyter sidecar run` against a real server and kernel."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_sidecar_ext.cli.common import ServerCommand
from jupyter_sidecar_ext.cli.dataflow import DataflowApp, RunApp

Capture = pytest.CaptureFixture[str]


async def run_cli(
    capsys: Capture, app_class: type[ServerCommand], *argv: str
) -> tuple[int, str, str]:
    """One command in-process: (status, stdout, the CLI's own stderr lines)."""
    capsys.readouterr()
    app = app_class()
    app.initialize(list(argv))
    status = await app.main()
    out, err = capsys.readouterr()
    own = [line for line in err.splitlines(keepends=True) if not line.startswith(("[", " "))]
    return status, out, "".join(line for line in own if ":" in line or "cell" in line)


async def test_dataflow_table_and_json(
    capsys: Capture,
    server_args: list[str],
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_execute: Any,
    sc_registry: Any,
    sc_wait_until: Any,
) -> None:
    kernel_id = await sc_start_kernel()
    for cell_id, code in (("a", "x = 1"), ("b", "y = x + 1"), ("a", "x = 2")):
        assert (await sc_execute(kernel_id, code=code, cell_id=cell_id))["status"] == "ok"

    def b_stale() -> bool:
        cell = sc_registry.find(kernel_id).notebook.get("b")
        return cell is not None and bool(cell.stale_because)

    await sc_wait_until(b_stale, timeout=30, what="b to be stale")
    status, out, err = await run_cli(capsys, DataflowApp, *server_args, kernel_id[:8])
    assert status == 0, err
    cells, edges = out.split("\n\n")
    lines = cells.splitlines()
    assert lines[0].split() == ["CELL", "COUNT", "DEFINES", "USES", "STATE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["b"].split()[:4] == ["b", "2", "y", "x"]
    assert rows["b"].endswith("stale: x changed by a [3]")
    assert rows["a"].endswith("current")
    assert [line.split() for line in edges.splitlines()] == [
        ["FROM", "TO", "NAMES"],
        ["a", "b", "x"],
    ]
    status, out, _ = await run_cli(capsys, DataflowApp, *server_args, kernel_id, "--json")
    payload = json.loads(out)
    assert status == 0 and payload["kernel_id"] == kernel_id
    assert {"from": "a", "to": "b", "names": ["x"]} in payload["edges"]


async def test_run_a_cell_with_what_it_needs(
    capsys: Capture,
    server_args: list[str],
    sc_start_kernel: Callable[..., Awaitable[str]],
    sc_cell_finished: Any,
    jp_root_dir: Path,
    tmp_path: Path,
) -> None:
    notebook = nbformat.v4.new_notebook()
    sources = {"load": "raw = [1, 2, 3]", "other": "z = 0", "report": "print(sum(raw))"}
    for cell_id, source in sources.items():
        cell = nbformat.v4.new_code_cell(source)
        cell.id = cell_id
        notebook.cells.append(cell)
    path = tmp_path / "analysis.ipynb"
    nbformat.write(notebook, path)
    kernel_id = await sc_start_kernel()
    argv = [*server_args, str(path), "--cell", "report", "--needs", "--kernel", kernel_id]
    status, out, err = await run_cli(capsys, RunApp, *argv)
    assert status == 0, err
    assert [line.split("\t")[0] for line in out.splitlines()] == ["load", "report"]
    report = await sc_cell_finished(kernel_id, "report")
    assert report["status"] == "ok" and report["outputs"][0]["text"] == "6\n"
    status, _, err = await run_cli(capsys, RunApp, *server_args, str(path), "--cell", "report")
    assert status == 2 and "--needs" in err
    argv = [*server_args, str(path), "--cell", "nope", "--dependents", "--kernel", kernel_id]
    status, _, err = await run_cli(capsys, RunApp, *argv)
    assert status == 1 and "Cell not in the notebook: nope" in err
