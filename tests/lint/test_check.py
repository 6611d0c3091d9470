"""Diagnostics from ruff (lint/check.py, lint/prepare.py): the notebook as one program, magics
masked with positions mapped back, syntax errors kept to their cell, fixes, failures."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from jupyter_sidecar_ext.lint.check import (
    CheckError,
    CheckSpec,
    apply_fixes,
    check_notebook,
    find_ruff,
)
from jupyter_sidecar_ext.lint.service import LintService

RUFF = find_ruff()
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed")


def check(cells: list[str], **spec: Any) -> list[list[dict[str, Any]]]:
    assert RUFF is not None
    return check_notebook(cells, CheckSpec(RUFF, **spec))


def codes(diagnostics: list[dict[str, Any]]) -> list[str]:
    return [d["code"] for d in diagnostics]


def test_names_are_shared_across_cells_in_order() -> None:
    cells = ["import os\nimport sys", "x = 1", "", "print(x)", "print(os.sep)"]
    found = check(cells)
    assert found == [
        [
            {
                "line": 2,
                "column": 8,
                "end_line": 2,
                "end_column": 11,
                "code": "F401",
                "message": "`sys` imported but unused",
                "severity": "warning",
                "fix": {
                    "message": "Remove unused import: `sys`",
                    "edits": [
                        {
                            "content": "",
                            "location": {"line": 2, "column": 1},
                            "end_location": {"line": 2, "column": 11},
                        }
                    ],
                },
            }
        ],
        [],
        [],
        [],
        [],
    ]


def test_default_rules_find_bugs_not_style() -> None:
    found = check(["import os,sys\nprint(undefined_name , os, sys)\nif os == None:  x=f'a'"])
    assert codes(found[0]) == ["F821", "E711", "F541"]
    assert found[0][0]["severity"] == "error"


def test_magics_are_masked_and_positions_mapped_back() -> None:
    cell = "%matplotlib inline\nfiles = !ls\n%time \\\n  slow()\nprint(files, missing)\n?files"
    (found,) = check([cell])
    assert codes(found) == ["F821"]  # slow (in a magic) is never looked at; files is defined
    missing = found[0]
    assert (missing["line"], missing["column"], missing["end_column"]) == (5, 14, 21)
    assert "missing" in missing["message"]


def test_cell_magics_python_body_checked_others_skipped() -> None:
    found = check(["%%time\n\nx == None", "%%bash\nimport os", "%%sql\nSELECT * FROM t"])
    assert [(d["code"], d["line"]) for d in found[0]] == [("F821", 3), ("E711", 3)]
    assert found[1:] == [[], []]


def test_a_cell_masked_without_its_own_parse_is_masked_again_when_ruff_cannot_parse_it() -> None:
    """The quick masking leaves the parse to ruff (lint/magics.py `check_parse`): here it
    masks only the `%` line, ruff finds the rest unparseable, and the cell is masked again
    as IPython reads it (automagic `pip install`, `files = !ls`), with nothing lost."""
    cells = ["import os", "%time x = 1\npip install black\nfiles = !ls\nprint(files, os, nope)"]
    found = check(cells)
    assert found[0] == []
    assert codes(found[1]) == ["F821"]
    assert (found[1][0]["line"], found[1][0]["column"]) == (4, 18)


def test_a_syntax_error_stays_in_its_cell() -> None:
    cells = ["import os", "def f(:\n    return os", "y = 1\ny == None", "print(f)"]
    found = check(cells)
    assert found[0] == []  # os may be used by the broken cell: not reported unused
    assert {d["code"] for d in found[1]} == {"invalid-syntax"}
    assert found[1][0]["line"] == 1 and found[1][0]["severity"] == "error"
    assert codes(found[2]) == ["E711"]  # the other cells are still checked
    assert found[3] == []  # f may be defined by the broken cell


def test_fixes_applied_give_the_expected_source() -> None:
    cells = ["import os\nimport json\nimport sys\nprint(sys)", "name = f'x'\nprint(name)"]
    found = check(cells)
    assert apply_fixes(cells[0], found[0]) == "import sys\nprint(sys)"
    assert apply_fixes(cells[1], found[1]) == "name = 'x'\nprint(name)"


async def checks(service: LintService, *calls: tuple[str | None, list[str]]) -> list[Any]:
    """The answers of `service.check` to each call in turn; then the service stops."""
    try:
        return [await service.check(path, cells) for path, cells in calls]
    finally:
        await service.stop()


async def test_project_config_is_used(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["E501"]\n')
    cells = ["import os\nx = '" + "a" * 100 + "'"]
    (default,) = await checks(LintService(None), (None, cells))
    (configured,) = await checks(LintService(tmp_path), ("nb.ipynb", cells))
    assert codes(default[0]) == ["F401"]
    assert codes(configured[0]) == ["E501"]
    assert configured[0][0]["line"] == 2


async def test_per_file_ignores_match_the_notebook_path(tmp_path: Path) -> None:
    (tmp_path / "ruff.toml").write_text(
        '[lint]\nselect = ["F"]\nper-file-ignores = {"scratch/*.ipynb" = ["F401"]}\n'
    )
    (tmp_path / "scratch").mkdir()
    calls = [("scratch/a.ipynb", ["import os"]), ("a.ipynb", ["import os"])]
    ignored, reported = await checks(LintService(tmp_path), *calls)
    assert codes(ignored[0]) == []
    assert codes(reported[0]) == ["F401"]


async def test_a_ruff_config_extending_outside_the_root_is_refused(tmp_path: Path) -> None:
    from jupyter_sidecar_ext.lint.config import ConfigError

    (tmp_path / "ruff.toml").write_text('extend = "../../elsewhere.toml"\n')
    with pytest.raises(ConfigError, match="outside the root"):
        await checks(LintService(tmp_path), ("a.ipynb", ["x = 1"]))


async def test_missing_ruff_is_a_clear_error() -> None:
    service = LintService(None, ruff_path="/nonexistent/ruff")
    assert not service.can_check
    with pytest.raises(CheckError, match="needs ruff"):
        await checks(service, (None, ["x = 1"]))


def test_a_slow_ruff_times_out_and_is_stopped(tmp_path: Path) -> None:
    slow = tmp_path / "slow-ruff"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    slow.chmod(0o755)
    with pytest.raises(CheckError, match=r"timed out after 0\.2 s"):
        check_notebook(["x = 1"], CheckSpec(str(slow), timeout=0.2))


async def test_a_failing_ruff_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "ruff.toml").write_text('[lint]\nselect = ["NOT_A_RULE"]\n')
    with pytest.raises(CheckError, match="ruff failed"):
        await checks(LintService(tmp_path), ("a.ipynb", ["x = 1"]))
