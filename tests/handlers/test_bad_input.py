"""Bad input that used to slip through the handlers (issue 18, item 6): text that is not
valid Unicode, error messages with `%` in them, and lint paths whose errors named the
server's absolute root."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

SURROGATE = "text is not valid Unicode (a lone surrogate such as \\ud800)"


async def error_of(jp_fetch: Any, *path: str, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*path, **kwargs)
    assert info.value.response is not None
    body = json.loads(info.value.response.body)
    assert "traceback" not in body
    message: str = body["message"]
    return info.value.code, message


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"code": "\\ud800"}', "code"),
        ('{"code": "x = \'\\udfff\'"}', "code"),
        ('{"code": "1", "cell_id": "a\\udc80"}', "cell_id"),
        ('{"code": "1", "b\\ud800d": 1}', "b\\ud800d"),  # a key is named escaped
    ],
)
async def test_lone_surrogates_in_execute_are_400_naming_the_field(
    jp_fetch: Any, sc_start_kernel: Any, sc_registry: Any, body: str, where: str
) -> None:
    """Was 200 `aborted` with an ERROR traceback in the log: nothing reaches the kernel."""
    kernel_id = await sc_start_kernel()
    code, message = await error_of(
        jp_fetch, "api", "sidecar", "kernels", kernel_id, "execute", method="POST", body=body
    )
    assert (code, message) == (400, f"{where}: {SURROGATE}")
    sidecar = sc_registry.find(kernel_id)
    assert sidecar is None or sidecar.notebook.cells() == []
    # A valid surrogate pair is one character, and runs
    ok = await jp_fetch(
        "api", "sidecar", "kernels", kernel_id, "execute", method="POST",
        body='{"code": "print(\'\\ud83d\\ude00\')"}',
    )  # fmt: skip
    assert json.loads(ok.body)["outputs"][0]["text"] == "\U0001f600\n"


@pytest.mark.parametrize(
    ("body", "where"),
    [
        ('{"cells": [{"id": "\\udfff", "source": "x"}]}', "cells.0.id"),
        ('{"cells": [{"id": "a", "source": "x"}, {"id": "\\udfff", "source": ""}]}', "cells.1.id"),
        ('{"cells": [], "path": "a\\ud800.ipynb"}', "path"),
        ('{"cells": [], "options": {"black": {"x": "\\ud800"}}}', "options.black.x"),
    ],
)
async def test_lone_surrogates_in_lint_are_400_naming_the_field(
    jp_fetch: Any, body: str, where: str
) -> None:
    """But a cell's source: that cell gets an error, the others are formatted
    (test_lint_handler.py::test_odd_characters_do_not_break_the_request)."""
    code, message = await error_of(jp_fetch, "api", "sidecar", "lint", method="POST", body=body)
    assert (code, message) == (400, f"{where}: {SURROGATE}")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (("kernels", "%s", "notebook"), "Kernel not found: %s"),
        (("kernels", "100%", "cells", "x"), "Kernel not found: 100%"),
        (("kernels", "%d%%", "variables"), "Kernel not found: %d%%"),
        (("no%sthing",), "No such sidecar endpoint: no%sthing"),
    ],
)
async def test_percent_signs_in_messages_are_not_doubled(
    jp_fetch: Any, path: tuple[str, ...], message: str
) -> None:
    """tornado doubles `%` in HTTPError.log_message when it has no args; jupyter_server's
    APIHandler sent that as is (`Kernel not found: %%s`)."""
    assert await error_of(jp_fetch, "api", "sidecar", *path) == (404, message)


async def test_percent_in_a_cell_id_and_execute_404(jp_fetch: Any, sc_start_kernel: Any) -> None:
    kernel_id = await sc_start_kernel()
    assert await error_of(jp_fetch, "api", "sidecar", "kernels", kernel_id, "cells", "%s") == (
        404,
        "Cell not found: %s",
    )
    assert await error_of(
        jp_fetch, "api", "sidecar", "kernels", "50%", "execute", method="POST", body='{"code": ""}'
    ) == (404, "Kernel not found: 50%")


async def test_lint_path_errors_never_name_the_servers_root(
    jp_fetch: Any, jp_root_dir: Path
) -> None:
    """A too-long path was a 400 echoing `[Errno 36] File name too long: '/abs/root/...'`."""
    os.symlink("loop", jp_root_dir / "loop")
    root = str(jp_root_dir.resolve())
    cases = {
        "a" * 5000: "File name too long",
        ("b" * 200 + "/") * 30: "File name too long",
        "loop/x.ipynb": "a symlink loop",
        "../../x.ipynb": "outside the server's root",
        "x\x00y.ipynb": "embedded null byte",
    }
    for path, reason in cases.items():
        body = json.dumps({"cells": [], "path": path})
        code, message = await error_of(jp_fetch, "api", "sidecar", "lint", method="POST", body=body)
        assert code == 400 and reason in message, message
        assert root not in message and str(jp_root_dir) not in message, message
        assert len(message) < 300, message
