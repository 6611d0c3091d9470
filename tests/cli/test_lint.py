"""`jupyter sidecar lint`: exit codes, --check/--diff/--json, .py and .ipynb round trips,
config discovery next to the file, and the `jupyter sidecar` dispatch."""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_sidecar_ext.cli import SidecarCLI, main
from jupyter_sidecar_ext.cli.lint import LintApp

UGLY_PY = "import sys,os\nx = {'a':1}\n"
PRETTY_PY = 'import os\nimport sys\n\nx = {"a": 1}\n'


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit status, stdout, stderr)."""
    try:
        with pytest.raises(SystemExit) as info:
            main(list(args))
    finally:  # the apps are singletons, as the server fixtures' ServerApp is
        LintApp.clear_instance()
        SidecarCLI.clear_instance()
    out, err = capsys.readouterr()
    return int(info.value.code or 0), out, err


def make_notebook(path: Path, sources: list[str], language: str = "python") -> Any:
    notebook = nbformat.v4.new_notebook(
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": language},
            "language_info": {"name": language},
            "custom": {"keep": [1, 2]},
        }
    )
    notebook.cells.append(nbformat.v4.new_markdown_cell("# Title\n\nx=1", id="md"))
    for index, source in enumerate(sources):
        cell = nbformat.v4.new_code_cell(source, id=f"c{index}", execution_count=index + 1)
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"out {index}\n")]
        cell.metadata = {"tags": ["t"], "collapsed": False}
        notebook.cells.append(cell)
    nbformat.write(notebook, path)
    return notebook


def test_py_check_diff_and_write(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "module.py"
    target.write_text(UGLY_PY)
    status, out, err = run(capsys, "lint", "--check", "--no-diagnostics", str(target))
    assert status == 1 and out == "" and f"would reformat {target}" in err
    assert target.read_text() == UGLY_PY
    status, out, _ = run(capsys, "lint", "--diff", str(target))
    assert status == 0 and target.read_text() == UGLY_PY
    assert out.splitlines() == [
        f"--- {target}",
        f"+++ {target}",
        "@@ -1,2 +1,4 @@",
        "-import sys,os",
        "-x = {'a':1}",
        "+import os",
        "+import sys",
        "+",
        '+x = {"a": 1}',
    ]
    status, _, err = run(capsys, "lint", str(target))
    assert status == 0 and target.read_text() == PRETTY_PY and f"reformatted {target}" in err
    assert run(capsys, "lint", "--check", "--no-diagnostics", str(target))[0] == 0


def test_py_keeps_crlf(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "dos.py"
    target.write_bytes(UGLY_PY.replace("\n", "\r\n").encode())
    assert run(capsys, "lint", str(target))[0] == 0
    assert target.read_bytes() == PRETTY_PY.replace("\n", "\r\n").encode()


def test_notebook_round_trip(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "analysis.ipynb"
    sources = [
        "import sys,os\n%matplotlib inline\nx=1",
        "obj?",
        "%%bash\necho  hi",
        "y = [1,2];",
        "already = 1",
    ]
    before = make_notebook(target, sources)
    status, out, err = run(capsys, "lint", "--check", "--no-diagnostics", "--diff", str(target))
    assert status == 1 and f"would reformat {target}" in err
    assert f"--- {target}:cell_1" in out and f"--- {target}:cell_4" in out
    assert "cell_2" not in out and "cell_3" not in out  # unchanged cells have no diff
    assert run(capsys, "lint", str(target))[0] == 0
    after = nbformat.read(target, as_version=nbformat.NO_CONVERT)
    nbformat.validate(after)
    expected = copy.deepcopy(before)
    expected.cells[1].source = "import os\nimport sys\n%matplotlib inline\n\nx = 1"
    expected.cells[4].source = "y = [1, 2];"
    assert after == expected  # outputs, ids, metadata, markdown: all as they were
    written = target.read_text()
    assert run(capsys, "lint", "--check", "--no-diagnostics", str(target))[0] == 0
    assert run(capsys, "lint", str(target))[0] == 0 and target.read_text() == written


def test_one_bad_cell_is_reported_and_the_rest_formatted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "broken.ipynb"
    make_notebook(target, ["a=1", "def f(:\n    pass", "b=2"])
    status, _, err = run(capsys, "lint", str(target))
    assert status == 2
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: {target}: cell 2 (id c1): black: cannot parse: 1:6: def f(: "
        "(ParseError: bad input)"
    ]
    cells = nbformat.read(target, as_version=4).cells
    assert [c.source for c in cells[1:]] == ["a = 1", "def f(:\n    pass", "b = 2"]


def test_config_next_to_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.black]\nline-length = 20\n[tool.isort]\nforce_single_line = true\n"
    )
    target = tmp_path / "pkg" / "mod.py"
    target.parent.mkdir()
    target.write_text("from os import sep, path\nresult = function(argument_one)\n")
    assert run(capsys, "lint", str(target))[0] == 0
    assert target.read_text() == (
        "from os import path\nfrom os import sep\n\nresult = function(\n    argument_one\n)\n"
    )


def test_json_output_and_tools(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    target.write_text(UGLY_PY)
    status, out, _ = run(
        capsys, "lint", "--json", "--check", "--no-diagnostics", "--tools=isort", str(target)
    )
    assert status == 1
    assert json.loads(out) == {
        "files": [{"path": str(target), "changed": True, "errors": []}],
        "errors": [],
    }
    notebook = tmp_path / "n.ipynb"
    make_notebook(notebook, ["x=1", "(("])
    status, out, _ = run(capsys, "lint", "--json", str(notebook))
    payload = json.loads(out)
    assert status == 2 and payload["files"][0]["cells"][0] == {
        "index": 1,
        "id": "c0",
        "changed": True,
    }
    assert payload["files"][0]["cells"][1]["error"].startswith("black: cannot parse")


def test_other_languages_and_directories(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    make_notebook(tmp_path / "r.ipynb", ["x<-c( 1,2 )"], language="R")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.py").write_text(UGLY_PY)
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "h.py").write_text(UGLY_PY)
    status, _, err = run(capsys, "lint", str(tmp_path))
    assert status == 0 and "1 file(s) reformatted, 1 unchanged" in err
    assert (tmp_path / "sub" / "m.py").read_text() == PRETTY_PY
    assert (tmp_path / ".hidden" / "h.py").read_text() == UGLY_PY


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lint"], "error: give at least one .ipynb or .py file"),
        (["lint", "missing.py"], "error: missing.py: no such file or directory"),
        (["lint", "--tools=yapf", "x.py"], "error: unknown tool 'yapf'"),
        (["lint", "--tools=ruff,black", "x.py"], "error: ruff sorts imports and formats"),
        (["lint", "--fix", "--check", "x.py"], "error: --fix writes files: not with --check"),
        ([], "jupyter sidecar: give a subcommand"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    status, _, err = run(capsys, *args)
    assert status == 2 and message in err


def test_broken_config_is_an_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.black\n")
    (tmp_path / "m.py").write_text(UGLY_PY)
    status, _, err = run(capsys, "lint", str(tmp_path / "m.py"))
    assert status == 2 and "pyproject.toml is not valid TOML" in err


def test_jupyter_sidecar_dispatch(tmp_path: Path, sidecar_command: Any) -> None:
    """`jupyter sidecar lint` runs the `jupyter-sidecar` console script, as jupyter does."""
    target = tmp_path / "m.py"
    target.write_text(UGLY_PY)
    done = subprocess.run(
        [*sidecar_command.argv, "lint", "--check", str(target)],
        env=sidecar_command.environ(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert f"would reformat {target}" in done.stderr
