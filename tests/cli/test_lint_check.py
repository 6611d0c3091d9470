"""`jupyter sidecar lint --check / --fix` as users run it (a subprocess): ruff's diagnostics as
`path:cell:line:col: CODE message` (or JSON), exit 1 when any, fixes written back with magics
intact, .ipynb and .py alike, the project's ruff config for rules and formatter."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

from jupyter_sidecar_ext.lint.check import find_ruff

pytestmark = pytest.mark.skipif(find_ruff() is None, reason="ruff is not installed")

CELLS = [
    "import os, sys\n%matplotlib inline\nx = f'a'",
    "print(x, undefined_name)\nif x == None:\n    pass",
    "%%bash\necho f'a'",
]


def sidecar(command: Any, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command.argv, "lint", *args],
        env=command.environ(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def write_notebook(path: Path, sources: list[str]) -> None:
    notebook = nbformat.v4.new_notebook(metadata={"language_info": {"name": "python"}})
    notebook.cells.append(nbformat.v4.new_markdown_cell("# Title", id="md"))
    for index, source in enumerate(sources):
        notebook.cells.append(nbformat.v4.new_code_cell(source, id=f"c{index}"))
    nbformat.write(notebook, path)


def code_cells(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_check_prints_diagnostics_and_exits_1(sidecar_command: Any, tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", CELLS)
    (tmp_path / "m.py").write_text("import os\n\nx = f'a'\n")
    (tmp_path / "clean.py").write_text("import os\n\nprint(os.sep)\n")
    done = sidecar(sidecar_command, "--check", "nb.ipynb", "m.py", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "nb.ipynb:1:1:8: F401 [*] `os` imported but unused",
        "nb.ipynb:1:1:12: F401 [*] `sys` imported but unused",
        "nb.ipynb:1:3:5: F541 [*] f-string without any placeholders",
        "nb.ipynb:2:1:10: F821 Undefined name `undefined_name`",
        "nb.ipynb:2:2:9: E711 Comparison to `None` should be `cond is None`",
        "m.py:1:8: F401 [*] `os` imported but unused",
        "m.py:3:5: F541 [*] f-string without any placeholders",
    ]
    assert "7 diagnostic(s) (5 fixable with --fix)" in done.stderr
    assert code_cells(tmp_path / "nb.ipynb") == CELLS  # --check writes nothing
    clean = sidecar(sidecar_command, "--check", "clean.py", cwd=tmp_path)
    assert (clean.returncode, clean.stdout) == (0, ""), clean.stderr


def test_check_json(sidecar_command: Any, tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", CELLS)
    done = sidecar(sidecar_command, "--check", "--json", "nb.ipynb", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    (result,) = json.loads(done.stdout)["files"]
    found = result["diagnostics"]
    assert [(d["cell"], d["cell_id"], d["code"]) for d in found] == [
        (1, "c0", "F401"),
        (1, "c0", "F401"),
        (1, "c0", "F541"),
        (2, "c1", "F821"),
        (2, "c1", "E711"),
    ]
    assert found[2]["fix"]["edits"] == [
        {
            "content": "'a'",
            "location": {"line": 3, "column": 5},
            "end_location": {"line": 3, "column": 9},
        }
    ]


def test_fix_writes_fixes_then_formats(sidecar_command: Any, tmp_path: Path) -> None:
    write_notebook(tmp_path / "nb.ipynb", CELLS)
    (tmp_path / "m.py").write_text("import os\nx = f'a'\n")
    done = sidecar(sidecar_command, "--fix", "nb.ipynb", "m.py", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # what has no fix is left, and reported
    assert done.stdout.splitlines() == [
        "nb.ipynb:2:1:10: F821 Undefined name `undefined_name`",
        "nb.ipynb:2:2:9: E711 Comparison to `None` should be `cond is None`",
    ]
    assert code_cells(tmp_path / "nb.ipynb") == [
        '%matplotlib inline\nx = "a"',
        "print(x, undefined_name)\nif x == None:\n    pass",
        "%%bash\necho f'a'",
    ]
    assert (tmp_path / "m.py").read_text() == 'x = "a"\n'
    again = sidecar(sidecar_command, "--fix", "m.py", cwd=tmp_path)
    assert (again.returncode, again.stdout) == (0, ""), again.stderr


def test_the_project_ruff_config_rules_and_formats(sidecar_command: Any, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.ruff]\nline-length = 30\n[tool.ruff.format]\nquote-style = 'single'\n"
        "[tool.ruff.lint]\nselect = ['E501']\n"
    )
    write_notebook(tmp_path / "nb.ipynb", ["%time f()\nvalue = {\"key\": 'a much longer string'}"])
    done = sidecar(sidecar_command, "--check", "nb.ipynb", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "nb.ipynb:1:2:31: E501 Line too long (39 > 30)",
    ]
    assert "would reformat nb.ipynb" in done.stderr  # ruff format, as the project says
    formatted = sidecar(sidecar_command, "--no-diagnostics", "nb.ipynb", cwd=tmp_path)
    assert formatted.returncode == 0, formatted.stderr
    assert code_cells(tmp_path / "nb.ipynb") == [
        "%time f()\nvalue = {\n    'key': 'a much longer string'\n}"
    ]
