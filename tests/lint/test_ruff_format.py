"""The ruff formatter (tools ["ruff"], lint/rufffmt.py): the corpus comes out as with isort +
black, magics kept verbatim, one bad cell alone fails, the project's config chooses it and
configures it, and the server answers with the tools it used."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_corpus import CASES, Case

from jupyter_sidecar_ext.lint.check import find_ruff
from jupyter_sidecar_ext.lint.config import ConfigError, Discovered, build_spec
from jupyter_sidecar_ext.lint.format import RUFF, TOOLS, FormatSpec
from jupyter_sidecar_ext.lint.ruffconfig import choose_tools
from jupyter_sidecar_ext.lint.rufffmt import format_chunk as format_cells
from jupyter_sidecar_ext.lint.service import LintService

RUFF_BIN = find_ruff()
pytestmark = pytest.mark.skipif(RUFF_BIN is None, reason="ruff is not installed")
# Cases whose options are black's or isort's own (ruff reads its config file instead).
PLAIN = [case for case in CASES if not case.options]


def ruff_spec(options: dict[str, Any] | None = None, config: str = "") -> FormatSpec:
    assert RUFF_BIN is not None
    return build_spec(Discovered(), options, RUFF, None, ruff=RUFF_BIN, ruff_config=config)


@pytest.fixture(scope="module")
def corpus_outcomes() -> dict[str, Any]:
    outcomes = format_cells([case.source for case in PLAIN], ruff_spec())
    return {case.name: outcome for case, outcome in zip(PLAIN, outcomes, strict=True)}


@pytest.mark.parametrize("case", PLAIN, ids=[case.name for case in PLAIN])
def test_corpus_comes_out_as_with_isort_and_black(case: Case, corpus_outcomes: Any) -> None:
    """Every case of the corpus (magics of every kind, cell magics, syntax errors) in one
    batch: the same text as isort + black, errors where they give one."""
    outcome = corpus_outcomes[case.name]
    if case.error is not None:
        assert outcome.error is not None and outcome.source == case.source
        assert "__sidecar_magic" not in outcome.error
        return
    assert (outcome.source, outcome.changed, outcome.error) == (
        case.expected,
        case.changed,
        None,
    )


def test_one_bad_cell_does_not_break_the_others() -> None:
    cells = ["import sys,os", "x = (1,\n%time y", "y  =  {'a':1}", "%%bash\necho  hi"]
    good, bad, other, bash = format_cells(cells, ruff_spec())
    assert good.source == "import os\nimport sys" and good.error is None
    assert bad.source == cells[1] and bad.error is not None
    assert bad.error.startswith("ruff: cannot parse: ") and "__sidecar" not in bad.error
    assert other.source == 'y = {"a": 1}'
    assert bash.source == cells[3] and not bash.changed


def test_magics_stay_verbatim_and_in_place() -> None:
    cell = (
        "import b,a\n%load_ext  autoreload\nimport c\nfiles = !ls  -la\n"
        "if files:\n    %time  f( 1 )\nobj?"
    )
    (outcome,) = format_cells([cell], ruff_spec())
    (black,) = format_cells([cell], build_spec(Discovered(), None, TOOLS, None))
    assert (
        outcome.source
        == black.source
        == (
            "import a\nimport b\n%load_ext  autoreload\nimport c\nfiles = !ls  -la\n\n"
            "if files:\n    %time  f( 1 )\nobj?"
        )
    )


def test_trailing_semicolon_is_kept() -> None:
    (outcome,) = format_cells(["x=[1,2];"], ruff_spec())
    assert outcome.source == "x = [1, 2];"


def test_request_line_length_and_project_config_apply(tmp_path: Path) -> None:
    long = "result = function_name(argument_one, argument_two)"
    (short,) = format_cells([long], ruff_spec({"black": {"line_length": 20}}))
    assert short.source == "result = function_name(\n    argument_one,\n    argument_two,\n)"
    config = tmp_path / "ruff.toml"
    config.write_text('[format]\nquote-style = "single"\n[lint.isort]\nforce-single-line = true\n')
    (single,) = format_cells(
        ['from os import sep,path\nx = {"a":1}'], ruff_spec(config=str(config))
    )
    assert single.source == "from os import path\nfrom os import sep\n\nx = {'a': 1}"


def test_a_bad_ruff_config_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "ruff.toml"
    config.write_text("[format]\nquote-style = 'curly'\n")
    with pytest.raises(ConfigError, match=r"^ruff: ") as raised:
        build_spec(Discovered(), None, RUFF, None, ruff=RUFF_BIN or "", ruff_config=str(config))
    assert str(tmp_path) not in str(raised.value)


def test_python_files_keep_their_trailing_newline() -> None:
    spec = ruff_spec()
    python = FormatSpec(**{**spec.__dict__, "python_file": True})
    (outcome,) = format_cells(["import sys,os\n%x = 1\n"], python)
    assert outcome.error is not None  # `%x` is not Python in a .py file
    (outcome,) = format_cells(["import sys,os\nx=1\n"], python)
    assert outcome.source == "import os\nimport sys\n\nx = 1\n"


# -- which formatter: the project's config, the server's setting, the request ----------------


def service_tools(root: Path, path: str, **settings: Any) -> tuple[str, ...]:
    service = LintService(root=root, **settings)
    return service._settings(path, None, None).tools


def test_a_ruff_config_chooses_ruff(tmp_path: Path) -> None:
    (tmp_path / "ruffed").mkdir()
    (tmp_path / "ruffed" / "ruff.toml").write_text("line-length = 100\n")
    (tmp_path / "tooled").mkdir()
    (tmp_path / "tooled" / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    (tmp_path / "plain").mkdir()
    assert service_tools(tmp_path, "ruffed/nb.ipynb") == RUFF
    assert service_tools(tmp_path, "tooled/nb.ipynb") == RUFF
    assert service_tools(tmp_path, "plain/nb.ipynb") == TOOLS  # nothing named: today's pair


def test_a_black_section_as_near_or_nearer_keeps_black(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\n[tool.black]\nline-length = 90\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "ruff.toml").write_text("")
    (tmp_path / "other" / "deeper").mkdir(parents=True)
    (tmp_path / "other" / "pyproject.toml").write_text("[tool.black]\n")
    (tmp_path / "other" / "deeper" / "ruff.toml").write_text("")
    assert service_tools(tmp_path, "nb.ipynb") == TOOLS  # same file: black
    assert service_tools(tmp_path, "sub/nb.ipynb") == RUFF  # ruff nearer
    assert service_tools(tmp_path, "other/deeper/nb.ipynb") == RUFF
    assert service_tools(tmp_path, "other/nb.ipynb") == TOOLS  # black nearer


def test_the_server_setting_and_the_request_decide_over_the_project(tmp_path: Path) -> None:
    (tmp_path / "ruff.toml").write_text("")
    assert service_tools(tmp_path, "nb.ipynb", formatter="black") == TOOLS
    (tmp_path / "ruff.toml").unlink()
    assert service_tools(tmp_path, "nb.ipynb", formatter="ruff") == RUFF
    service = LintService(root=tmp_path)
    assert service._settings("nb.ipynb", TOOLS, None).tools == TOOLS


def test_without_ruff_the_pair_is_used() -> None:
    found = Discovered()
    assert choose_tools(found, "/p/ruff.toml", "project", has_ruff=False) == TOOLS
    assert choose_tools(found, "", "ruff", has_ruff=False) == TOOLS


async def test_the_server_formats_with_the_project_choice(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "ruff.toml").write_text("[format]\nquote-style = 'single'\n")
    cells = [{"id": "a", "source": 'import sys,os\n%matplotlib inline\nx = {"a":1}'}]
    response = await jp_fetch(
        "api",
        "sidecar",
        "lint",
        method="POST",
        body=json.dumps({"cells": cells, "path": "proj/nb.ipynb"}),
    )
    answer = json.loads(response.body)
    assert answer["tools"] == ["ruff"]
    assert (
        answer["cells"][0]["source"] == "import os\nimport sys\n%matplotlib inline\n\nx = {'a': 1}"
    )
    response = await jp_fetch(
        "api",
        "sidecar",
        "lint",
        method="POST",
        body=json.dumps({"cells": cells, "path": "proj/nb.ipynb", "tools": ["isort", "black"]}),
    )
    answer = json.loads(response.body)
    assert answer["tools"] == ["isort", "black"]
    assert answer["cells"][0]["source"].endswith('x = {"a": 1}')
