"""POST /api/sidecar/lint through a real server: formatting, per-cell errors, 400/413,
authorization (resource `contents`), config discovery from `path`, and the cache."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from jupyter_server.auth import Authorizer
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from jupyter_sidecar_ext.lint.service import LintService
from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG
from jupyter_sidecar_ext.schemas.api import LintResult

MAX_CELLS = 300
MAX_BYTES = 200_000
MAX_PENDING = 50


class RecordingAuthorizer(Authorizer):
    """Allows everything but the resources in `denied`; records what it was asked."""

    denied: ClassVar[set[str]] = set()
    asked: ClassVar[list[tuple[str, str]]] = []

    def is_authorized(self, handler: Any, user: Any, action: str, resource: str) -> bool:
        self.asked.append((action, resource))
        return resource not in self.denied


@pytest.fixture
def jp_server_config() -> Config:
    config = Config(copy.deepcopy(SERVER_CONFIG))
    config.LintService.max_cells = MAX_CELLS
    config.LintService.max_request_bytes = MAX_BYTES
    config.LintService.max_pending_cells = MAX_PENDING
    config.LintService.workers = 1
    config.ServerApp.authorizer_class = RecordingAuthorizer
    return config


@pytest.fixture
def lint_service(jp_serverapp: Any) -> LintService:
    app = next(iter(jp_serverapp.extension_manager.extension_apps["jupyter_sidecar_ext"]))
    service: LintService = app.lint
    return service


async def lint(jp_fetch: Any, body: Any) -> list[dict[str, Any]]:
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    response = await jp_fetch("api", "sidecar", "lint", method="POST", body=raw)
    cells: list[dict[str, Any]] = json.loads(response.body)["cells"]
    return cells


async def lint_error(jp_fetch: Any, body: Any, status: int) -> str:
    with pytest.raises(HTTPClientError) as info:
        await lint(jp_fetch, body)
    assert info.value.code == status
    assert info.value.response is not None
    payload = json.loads(info.value.response.body)
    assert "traceback" not in payload or not payload["traceback"]
    message: str = payload["message"]
    return message


async def test_features_include_lint(jp_fetch: Any) -> None:
    info = json.loads((await jp_fetch("api", "sidecar")).body)
    assert "lint" in info["features"]


async def test_formats_cells_and_isolates_errors(jp_fetch: Any) -> None:
    cells = await lint(
        jp_fetch,
        {
            "cells": [
                {"id": "a", "source": "import sys\nimport os\n%matplotlib inline\nx=1"},
                {"id": "b", "source": "x = (1,"},
                {"id": "c", "source": ["y=2\n", "obj?"]},
                {"id": "d", "source": "z = 3"},
                {"id": "e", "source": "%%bash\necho  hi"},
            ]
        },
    )
    assert cells == [
        {
            "id": "a",
            "source": "import os\nimport sys\n%matplotlib inline\n\nx = 1",
            "changed": True,
        },
        {"id": "b", "source": "x = (1,", "changed": False, "error": cells[1]["error"]},
        {"id": "c", "source": "y = 2\nobj?", "changed": True},
        {"id": "d", "source": "z = 3", "changed": False},
        {"id": "e", "source": "%%bash\necho  hi", "changed": False},
    ]
    assert cells[1]["error"].startswith("black: cannot parse: 1:")


async def test_a_py_path_formats_whole_python_files(jp_fetch: Any) -> None:
    """In a .py file a `%` line is Python (a modulo continuation), not a magic, and the
    file keeps the newline it ends with."""
    source = "import sys,os\nx=(10\n%3)\n"
    (cell,) = await lint(jp_fetch, {"cells": [{"id": "f", "source": source}], "path": "m.py"})
    assert cell == {"id": "f", "source": "import os\nimport sys\n\nx = 10 % 3\n", "changed": True}
    (as_cell,) = await lint(jp_fetch, {"cells": [{"id": "f", "source": source}]})
    assert as_cell["source"] != cell["source"]


async def test_empty_request(jp_fetch: Any) -> None:
    assert await lint(jp_fetch, {"cells": []}) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ({}, "cells: Field required"),
        ({"cells": {"id": "a"}}, "cells: Input should be a valid list"),
        ({"cells": ["x = 1"]}, "cells.0: Input should be an object"),
        ({"cells": [{"source": "x"}]}, "cells.0.id: Field required"),
        ({"cells": [{"id": 1, "source": "x"}]}, "cells.0.id: Input should be a valid string"),
        ({"cells": [{"id": "a"}]}, "cells.0.source: Field required"),
        ({"cells": [{"id": "a", "source": 3}]}, "cells.0.source: Input should be a valid string"),
        ({"cells": [{"id": "a", "source": ["x", 3]}]}, "cells.0.source: Input should be a valid"),
        ({"cells": [{"id": "a", "source": "x"}] * (MAX_CELLS + 1)}, "too many cells: 301"),
        ({"cells": [], "tools": ["yapf"]}, "tools.0: Input should be 'isort', 'black' or 'ruff'"),
        ({"cells": [], "tools": ["ruff", "black"]}, "ruff sorts imports and formats on its own"),
        ({"cells": [], "tools": []}, "tools: List should have at least 1 item"),
        ({"cells": [], "tools": "black"}, "tools: Input should be a valid list"),
        ({"cells": [], "tools": ["black", "black"]}, "tools: tools must not repeat"),
        (
            {"cells": [], "tool": ["black"]},
            "unknown field 'tool' (known: cells, check, options, path",
        ),
        ({"cells": [], "options": {"ruff": {}}}, "options: unknown field 'ruff' (known: black"),
        ({"cells": [], "path": 3}, "path: Input should be a valid string"),
        ({"cells": [], "path": "../x.ipynb"}, "outside the server's root"),
        ({"cells": [], "options": {"black": {"line_length": "x"}}}, "positive integer"),
        ({"cells": [], "options": {"isort": {"settings_file": "/etc/passwd"}}}, "cannot be set"),
        ({"cells": [], "options": {"black": {"bad%s": 1}}}, "unknown black option 'bad%s'"),
        ({"cells": [], "options": {"isort": {"bogus": 1}}}, "unknown isort option 'bogus'"),
        ({"cells": [], "options": {"isort": {"profile": "nope"}}}, "profile of nope does not"),
        ({"cells": [], "options": {"black": {"target_version": "py2"}}}, "unknown value 'PY2'"),
    ],
)
async def test_bad_bodies_are_400(jp_fetch: Any, body: Any, message: str) -> None:
    assert message in await lint_error(jp_fetch, body, 400)


async def test_too_large_is_413(jp_fetch: Any) -> None:
    body = {"cells": [{"id": "a", "source": "x = 1\n" * (MAX_BYTES // 6)}]}
    assert "over 200000 bytes" in await lint_error(jp_fetch, body, 413)


async def test_authorized_as_contents_write(jp_fetch: Any) -> None:
    RecordingAuthorizer.asked.clear()
    await lint(jp_fetch, {"cells": []})
    assert ("write", "contents") in RecordingAuthorizer.asked
    RecordingAuthorizer.denied = {"contents"}
    try:
        await lint_error(jp_fetch, {"cells": []}, 403)
    finally:
        RecordingAuthorizer.denied = set()


async def test_config_is_read_from_the_notebooks_directory(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    (jp_root_dir / "project" / "notebooks").mkdir(parents=True)
    (jp_root_dir / "project" / "pyproject.toml").write_text(
        "[tool.black]\nline-length = 30\n[tool.isort]\nforce_single_line = true\n"
    )
    source = "from os import sep, path\nresult = function(argument_one, argument_two)"
    body: dict[str, Any] = {"cells": [{"id": "a", "source": source}]}
    default = (await lint(jp_fetch, body))[0]["source"]
    assert default == ("from os import path, sep\n\nresult = function(argument_one, argument_two)")
    body["path"] = "project/notebooks/analysis.ipynb"
    assert (await lint(jp_fetch, body))[0]["source"] == (
        "from os import path\nfrom os import sep\n\n"
        "result = function(\n    argument_one, argument_two\n)"
    )
    body["options"] = {"black": {"line_length": 88}, "isort": {"force_single_line": False}}
    assert (await lint(jp_fetch, body))[0]["source"] == default


async def test_relinting_is_served_from_the_cache(jp_fetch: Any, lint_service: LintService) -> None:
    stats, handed = lint_service.engine.stats, lint_service.engine.scheduler.stats
    body = {"cells": [{"id": str(i), "source": f"x{i}=[ {i} ]"} for i in range(40)]}
    first = await lint(jp_fetch, body)
    tasks, pool_cells, hits = handed.jobs, handed.cells, stats.cache_hits
    assert tasks > 0 and pool_cells >= 40
    body["cells"] = [{**cell, "id": f"again-{cell['id']}"} for cell in body["cells"]]
    second = await lint(jp_fetch, body)
    assert [c["source"] for c in second] == [c["source"] for c in first]
    assert (handed.jobs, handed.cells) == (tasks, pool_cells)  # the workers were not used
    assert stats.cache_hits == hits + 40
    # other settings are other cache entries
    await lint(jp_fetch, {**body, "options": {"black": {"line_length": 50}}})
    assert handed.jobs > tasks


async def test_identical_cells_are_formatted_once(jp_fetch: Any, lint_service: LintService) -> None:
    stats = lint_service.engine.scheduler.stats
    before = stats.cells
    cells = await lint(jp_fetch, {"cells": [{"id": str(i), "source": "same=1"} for i in range(5)]})
    assert {c["source"] for c in cells} == {"same = 1"}
    assert stats.cells == before + 1


async def test_odd_characters_do_not_break_the_request(jp_fetch: Any) -> None:
    sources = ["s = '\ud800'", "n = '\x00'", "e='😀 漢字'", "c = '\u200b\x1b'"]
    cells = await lint(
        jp_fetch, {"cells": [{"id": str(i), "source": s} for i, s in enumerate(sources)]}
    )
    assert [c["source"] for c in cells] == [*sources[:2], 'e = "😀 漢字"', 'c = "\u200b\x1b"']
    assert cells[0]["error"].startswith("UnicodeEncodeError") and "error" in cells[1]
    assert "error" not in cells[2] and "error" not in cells[3]
    # the same in nbformat's multi-line form
    cells = await lint(jp_fetch, {"cells": [{"id": "m", "source": ["a = 1\n", "s = '\ud800'"]}]})
    assert cells[0]["error"].startswith("UnicodeEncodeError")


async def test_past_the_pending_bound_is_429_with_retry_after(
    jp_fetch: Any, lint_service: LintService
) -> None:
    """Another user's work fills the queue (a cell black needs many seconds for holds the
    only worker, more wait): a request that would go past the bound is refused at once,
    with when to try again, instead of waiting behind it."""
    engine = lint_service.engine
    await lint(jp_fetch, {"cells": [{"id": "a", "source": "x=1"}]})  # settings checked once
    spec = await lint_service.settings(None, None, None)
    huge = "".join(f"v_{j}=f( {j},'x' , [1,2,3] )\n" for j in range(40_000))
    filler = engine.submit([huge] + [f"w{i}=[ {i} ]" for i in range(40)], spec, "other")
    try:
        body = {"cells": [{"id": str(i), "source": f"mine{i}=[ {i} ]"} for i in range(20)]}
        with pytest.raises(HTTPClientError) as info:
            await lint(jp_fetch, body)
        assert info.value.code == 429 and info.value.response is not None
        assert int(info.value.response.headers["Retry-After"]) >= 1
        message = json.loads(info.value.response.body)["message"]
        assert message.startswith("Lint is busy: 41 cells on this server are waiting")
        # cells the cache answers need no worker: still served
        assert await lint(jp_fetch, {"cells": []}) == []
    finally:
        filler.cancel()


async def test_check_returns_diagnostics_per_cell(jp_fetch: Any) -> None:
    info = json.loads((await jp_fetch("api", "sidecar")).body)
    assert "check" in info["features"]
    cells = [
        {"id": "a", "source": "import os\nimport sys"},
        {"id": "b", "source": "%matplotlib inline\nprint(os.sep, nope)"},
        {"id": "c", "source": "def f(:"},
    ]
    answer = await lint(jp_fetch, {"cells": cells, "check": True})
    assert [c["source"] for c in answer] == [c["source"] for c in cells]
    found = [[(d["code"], d["line"], d["column"]) for d in c["diagnostics"]] for c in answer]
    assert found[0] == [("F401", 2, 8)]
    assert found[1] == [("F821", 2, 15)]
    assert found[2][0][0] == "invalid-syntax"
    assert answer[0]["diagnostics"][0]["fix"]["edits"][0]["location"] == {"line": 2, "column": 1}


async def test_check_answer_is_what_its_model_writes(jp_fetch: Any) -> None:
    """The handler wraps the check workers' JSON text as it is: byte for byte what the
    answer's model (LintResult) gives, fixes, magics, syntax errors and skipped cells included."""
    cells = [
        {"id": "a", "source": "import os\nimport sys\nname = f'x'"},
        {"id": "b\u00e9", "source": ["%matplotlib inline\n", "print(os.sep, nope, '\u00e9')"]},
        {"id": "c", "source": "def f(:"},
        {"id": "d", "source": "%%bash\necho hi"},
    ]
    body = json.dumps({"cells": cells, "check": True})
    response = await jp_fetch("api", "sidecar", "lint", method="POST", body=body)
    answer = json.loads(response.body)
    assert sum(len(cell["diagnostics"]) for cell in answer["cells"]) >= 4
    model = LintResult.model_validate(answer)
    assert response.body.decode() == json.dumps(model.model_dump(mode="json", exclude_unset=True))


async def test_check_uses_the_project_ruff_config(jp_fetch: Any, jp_root_dir: Path) -> None:
    (jp_root_dir / "proj").mkdir()
    (jp_root_dir / "proj" / "pyproject.toml").write_text('[tool.ruff.lint]\nselect = ["E501"]\n')
    cells = [{"id": "a", "source": "import os\nx = '" + "a" * 100 + "'"}]
    body = {"cells": cells, "check": True, "path": "proj/nb.ipynb"}
    (answer,) = await lint(jp_fetch, body)
    assert [d["code"] for d in answer["diagnostics"]] == ["E501"]


async def test_check_without_ruff_is_503(jp_fetch: Any, lint_service: LintService) -> None:
    lint_service.ruff = None
    body = {"cells": [{"id": "a", "source": "x = 1"}], "check": True}
    assert "needs ruff" in await lint_error(jp_fetch, body, 503)
