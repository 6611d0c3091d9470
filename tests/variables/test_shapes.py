"""Exact shapes and sizes from complete previews of common types, in a real kernel's
snapshot (nothing executed to get them): one row per type, all checked in one kernel."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

Fetch = Callable[..., Awaitable[Any]]

pytest.importorskip("numpy")
pytest.importorskip("pandas")

# (name, definition, shape, size, shape_text, size_text)
TABLE: list[tuple[str, str, list[int] | None, int | None, str | None, str | None]] = [
    ("df", "pd.DataFrame({'a': [1, 2], 'b': [3.5, 4.0]})", [2, 2], None, "2 rows x 2 cols", None),
    (
        "labels",
        "pd.DataFrame({'v': [1, 2]}, index=['r 1', 'r 2'])",
        [2, 1],
        None,
        "2 rows x 1 col",
        None,
    ),
    # spaces in a label and a value: the layout is ambiguous, so unknown
    ("spaced", "pd.DataFrame({'x y': ['a b', 'c']}, index=['r 1', 'r2'])", None, None, None, None),
    ("tall", "pd.DataFrame({'a': range(100)})", [100, 1], None, "100 rows x 1 col", None),
    ("empty_df", "pd.DataFrame()", [0, 0], None, "0 rows x 0 cols", None),
    ("ser", "pd.Series([1, 2, 3], name='x')", [3], None, "3 rows", None),
    ("long_ser", "pd.Series(range(1000))", [1000], None, "1,000 rows", None),
    ("empty_ser", "pd.Series([], dtype=float)", [0], None, "0 rows", None),
    ("arr", "np.arange(4).reshape(2, 2)", [2, 2], None, "(2, 2)", None),
    ("f32", "np.zeros(3, dtype=np.float32)", [3], 12, "(3,)", "12 B"),
    ("wide", "np.zeros((100, 300), dtype=np.int8)", [100, 300], 30000, "(100, 300)", "29.3 KB"),
    ("cube", "np.zeros((2, 3, 4))", [2, 3, 4], None, "(2, 3, 4)", None),
    ("text", "'héllo'", [5], 6, "5 chars", "6 B"),
    ("raw", "b'abc'", [3], 3, "3 bytes", "3 B"),
    ("items", "[1, 2, 3]", [3], None, "3 items", None),
    ("pairs", "{'a': 1, 'b': 2}", [2], None, "2 items", None),
    ("many", "list(range(1000))", None, None, None, None),  # preview cut: unknown, not guessed
    ("number", "42", None, None, None, None),
]


async def test_shapes_and_sizes_of_common_types(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    code = "import numpy as np, pandas as pd\n" + "\n".join(
        f"{name} = {definition}" for name, definition, *_ in TABLE
    )
    replies = await client.collect(await client.execute(code))
    reply = next(m for m in replies if m["header"]["msg_type"] == "execute_reply")
    assert reply["content"]["status"] == "ok", reply["content"]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        response = await jp_fetch("api", "sidecar", "kernels", kernel_id, "variables")
        payload = json.loads(response.body)
        if payload["state"] == "ok" and payload["execution_count"] == 1 and not payload["stale"]:
            break
        assert loop.time() < deadline, payload
        await asyncio.sleep(0.05)
    rows = {row["name"]: row for row in payload["variables"]}
    got = {
        name: (
            rows[name]["shape"],
            rows[name]["size"],
            rows[name]["shape_text"],
            rows[name]["size_text"],
        )
        for name, *_ in TABLE
    }
    expected = {name: tuple(rest[1:]) for name, *rest in TABLE}
    assert got == expected
    assert rows["df"]["length"] == 2 and rows["number"]["length"] is None
