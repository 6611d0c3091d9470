"""Drill-down (children) and paged rows against real kernels, through a kernel subshell."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient, blocking_cell

Fetch = Callable[..., Awaitable[Any]]

pytest.importorskip("numpy")
pytest.importorskip("pandas")

SETUP = """
import numpy as np, pandas as pd

class Point:
    def __init__(self):
        self.x = 1
        self.label = "p"
        self.inner = {"deep": [10, 20, 30]}

class Loud:
    def __repr__(self):
        raise ValueError("no repr for you")

class Slow:
    def __repr__(self):
        import time
        time.sleep(30)
        return "slow"

nested = {"a": [1, {"b": (2, 3)}], 5: "five", (1, 2): {"t": 1}, "obj": Point(), float("nan"): [0]}
items = list(range(250))
bag = {3}
class Box:
    pass

class Chatty:
    def __repr__(self):
        print("chatty repr")
        return "chatty"

class Hang(__import__("collections").abc.Mapping):
    def __getitem__(self, key):
        import time
        time.sleep(60)
    def __iter__(self):
        return iter(["k"])
    def __len__(self):
        return 1

box = Box()  # listed with the default repr: the snapshot never formats what it holds
box.hang = Hang()
box.chatty = Chatty()  # (the snapshot formats nested's items: it would print there)
box.mixed = [1, Loud(), "ok", Slow(), 2.5]
df = pd.DataFrame({"a": [3, 1, 2], "b": ["x", "y", "z"]}, index=["r0", "r1", "r2"])
grid = np.arange(12).reshape(3, 4)
ser = pd.Series([1.5, None, 0.5], name="s")
n = 7
"""


@pytest.fixture
def jp_server_config(jp_server_config: Config) -> Config:
    """Bounds a loaded machine's kernels keep to: a snapshot past its timeout pauses refreshes
    for longer than a test waits, and an ordinary child's repr (started on a thread of its
    own) must not read as slow. What hangs here hangs for good, so they still trip."""
    jp_server_config["VariablesService"] = Config({"timeout": 10.0, "debounce": 0.02})
    jp_server_config["VariablesExplorer"] = Config({"timeout": 10.0, "repr_timeout": 2.0})
    return jp_server_config


async def run(client: KernelWebsocketClient, code: str) -> dict[str, Any]:
    replies = await client.collect(await client.execute(code))
    reply = next(m for m in replies if m["header"]["msg_type"] == "execute_reply")
    assert reply["content"]["status"] == "ok", reply["content"]
    content: dict[str, Any] = reply["content"]
    return content


async def get(jp_fetch: Fetch, kernel_id: str, name: str, what: str, **query: Any) -> Any:
    response = await jp_fetch(
        "api", "sidecar", "kernels", kernel_id, "variables", name, what, params=query
    )
    return json.loads(response.body)


async def refused(jp_fetch: Fetch, kernel_id: str, name: str, what: str, **query: Any) -> Any:
    with pytest.raises(HTTPClientError) as info:
        await get(jp_fetch, kernel_id, name, what, **query)
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)["message"]


def path(*steps: Any) -> str:
    return json.dumps(list(steps))


async def start(sc_start_kernel: Any, sc_connect: Any) -> tuple[str, KernelWebsocketClient]:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    await run(client, SETUP)
    return kernel_id, client


async def test_children_of_nested_structures(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id, _ = await start(sc_start_kernel, sc_connect)
    top = await get(jp_fetch, kernel_id, "nested", "children")
    assert (top["kernel_id"], top["name"], top["path"]) == (kernel_id, "nested", [])
    assert top["total"] == 5 and top["truncated"] is False
    rows = {json.dumps(child["key"]): child for child in top["children"]}
    assert rows['"a"']["type"] == "list" and rows['"a"']["shape"] == [2]
    assert rows['"a"']["expandable"] is True and rows['"a"']["shape_text"] == "2 items"
    assert rows["5"]["value"] == "'five'" and rows["5"]["expandable"] is False
    assert rows["5"]["size"] == 4 and rows["5"]["size_text"] == "4 B"
    assert rows['"(1, 2)"']["value"] == "{'t': 1}"  # a non-JSON key: its repr
    assert rows['"obj"']["type"] == "Point" and rows['"obj"']["expandable"] is True

    deep = await get(jp_fetch, kernel_id, "nested", "children", path=path("a", 1, "b"))
    assert [c["key"] for c in deep["children"]] == [0, 1]
    assert [c["value"] for c in deep["children"]] == ["2", "3"]
    tuple_key = await get(jp_fetch, kernel_id, "nested", "children", path=path("(1, 2)"))
    assert [c["key"] for c in tuple_key["children"]] == ["t"]
    obj = await get(jp_fetch, kernel_id, "nested", "children", path=path("obj"))
    assert [c["key"] for c in obj["children"]] == ["x", "label", "inner"]
    inner = await get(jp_fetch, kernel_id, "nested", "children", path=path("obj", "inner", "deep"))
    assert [c["value"] for c in inner["children"]] == ["10", "20", "30"]
    # NaN is no JSON: its repr is the key, and names it in a path
    assert rows['"nan"']["value"] == "[0]"
    not_a_number = await get(jp_fetch, kernel_id, "nested", "children", path=path("nan"))
    assert not_a_number["children"][0]["value"] == "0"
    bag = await get(jp_fetch, kernel_id, "bag", "children")
    assert bag["children"][0]["key"] == 0 and bag["children"][0]["value"] == "3"


async def test_children_are_paged(jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any) -> None:
    kernel_id, _ = await start(sc_start_kernel, sc_connect)
    first = await get(jp_fetch, kernel_id, "items", "children")
    assert first["total"] == 250 and len(first["children"]) == 100 and first["truncated"]
    last = await get(jp_fetch, kernel_id, "items", "children", offset=200, limit=100)
    assert [c["key"] for c in last["children"]] == list(range(200, 250))
    assert last["truncated"] is False and (last["offset"], last["limit"]) == (200, 100)


async def test_dataframe_columns_and_array_axis(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id, _ = await start(sc_start_kernel, sc_connect)
    columns = await get(jp_fetch, kernel_id, "df", "children")
    assert [(c["key"], c["type"], c["shape"]) for c in columns["children"]] == [
        ("a", "Series", [3]),
        ("b", "Series", [3]),
    ]
    assert columns["children"][0]["size"] == 24 and columns["children"][0]["shape_text"] == "3 rows"
    values = await get(jp_fetch, kernel_id, "df", "children", path=path("a"))
    assert [c["value"] for c in values["children"]] == ["3", "1", "2"]
    axis = await get(jp_fetch, kernel_id, "grid", "children")
    assert axis["total"] == 3
    assert [c["shape"] for c in axis["children"]] == [[4], [4], [4]]
    assert axis["children"][1]["size"] == 32 and axis["children"][1]["expandable"] is True
    row = await get(jp_fetch, kernel_id, "grid", "children", path=path(2))
    assert [c["value"] for c in row["children"]] == ["8", "9", "10", "11"]


async def test_a_raising_or_slow_repr_costs_only_its_child(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id, _ = await start(sc_start_kernel, sc_connect)
    page = await get(jp_fetch, kernel_id, "box", "children", path=path("mixed"))
    values = [(c["value"], c["error"]) for c in page["children"]]
    assert values[0] == ("1", None) and values[2] == ("'ok'", None) and values[4] == ("2.5", None)
    assert values[1][0] is None and "ValueError: no repr for you" in values[1][1]
    assert values[3][0] is None and "took over 2 s" in values[3][1]
    # the subshell answers the next request at once (the slow repr runs on in its thread)
    # (a container holding it cannot be shown either: its repr formats the item)
    box = await get(jp_fetch, kernel_id, "box", "children")
    attributes = {child["key"]: child for child in box["children"]}
    assert "took over" in attributes["mixed"]["error"]
    assert attributes["hang"]["expandable"] is True and attributes["hang"]["error"] is None
    nested = await get(jp_fetch, kernel_id, "nested", "children", limit=1)
    assert nested["children"][0]["error"] is None


async def test_a_hanging_lookup_is_bounded(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    """A path through a mapping whose __getitem__ never returns: 504 after the explorer's
    timeout, and the next request is answered."""
    kernel_id, _ = await start(sc_start_kernel, sc_connect)
    code, message = await refused(jp_fetch, kernel_id, "box", "children", path=path("hang", "k"))
    assert code == 504 and "did not finish within 10 s" in message
    nested = await get(jp_fetch, kernel_id, "nested", "children", limit=1)
    assert nested["total"] == 5


async def test_bad_requests(jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any) -> None:
    kernel_id, _ = await start(sc_start_kernel, sc_connect)
    assert (await refused(jp_fetch, kernel_id, "nope", "children"))[0] == 404
    assert (await refused(jp_fetch, kernel_id, "_private", "children"))[0] == 404
    code, message = await refused(jp_fetch, kernel_id, "nested", "children", path=path("zz"))
    assert code == 404 and "zz" in message
    assert (await refused(jp_fetch, kernel_id, "n", "children"))[0] == 409
    for query in ({"path": "{"}, {"path": '{"a": 1}'}, {"path": "[[1]]"}, {"offset": "-1"}):
        code, message = await refused(jp_fetch, kernel_id, "nested", "children", **query)
        assert code == 400 and message
    for query in ({"limit": "0"}, {"limit": "100000"}, {"offset": "x"}, {"ascending": "maybe"}):
        code, message = await refused(jp_fetch, kernel_id, "df", "rows", **query)
        assert code == 400 and message
    code, message = await refused(jp_fetch, kernel_id, "df", "rows", sort="nope")
    assert code == 400 and "nope" in message
    code, message = await refused(jp_fetch, kernel_id, "nested", "rows")
    assert code == 409 and "not a table" in message
    assert (await refused(jp_fetch, kernel_id, "nope", "rows"))[0] == 404


async def test_rows_of_frames_series_and_arrays(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id, _ = await start(sc_start_kernel, sc_connect)
    page = await get(jp_fetch, kernel_id, "df", "rows")
    assert page["total_rows"] == 3 and page["index"] == ["r0", "r1", "r2"]
    assert page["columns"] == [
        {"name": "a", "dtype": "int64"},
        {"name": "b", "dtype": page["columns"][1]["dtype"]},
    ]
    assert page["rows"] == [["3", "x"], ["1", "y"], ["2", "z"]]
    assert (page["sort"], page["ascending"], page["offset"], page["limit"]) == (None, True, 0, 100)
    ordered = await get(jp_fetch, kernel_id, "df", "rows", sort="a")
    assert ordered["index"] == ["r1", "r2", "r0"] and ordered["rows"][0] == ["1", "y"]
    down = await get(jp_fetch, kernel_id, "df", "rows", sort="b", ascending="false", limit=2)
    assert down["rows"] == [["2", "z"], ["1", "y"]] and down["sort"] == "b"
    series = await get(jp_fetch, kernel_id, "ser", "rows", sort="s")
    assert series["columns"] == [{"name": "s", "dtype": "float64"}]
    assert series["rows"] == [["0.5"], ["1.5"], ["nan"]] and series["index"] == [2, 0, 1]
    grid = await get(jp_fetch, kernel_id, "grid", "rows", offset=1, limit=1)
    assert grid["columns"] == [{"name": str(j), "dtype": "int64"} for j in range(4)]
    assert grid["index"] == [1] and grid["rows"] == [["4", "5", "6", "7"]]


async def test_paging_a_million_row_frame(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    kernel_id, client = await start(sc_start_kernel, sc_connect)
    await run(
        client,
        "big = pd.DataFrame({'x': np.arange(1_000_000)[::-1], 'y': np.arange(1_000_000) % 7})",
    )
    page = await get(jp_fetch, kernel_id, "big", "rows", offset=999_900, limit=100)
    assert page["total_rows"] == 1_000_000 and len(page["rows"]) == 100
    assert page["index"][0] == 999_900 and page["rows"][-1] == ["0", str(999_999 % 7)]
    ordered = await get(jp_fetch, kernel_id, "big", "rows", sort="x", limit=3)
    assert ordered["rows"] == [
        ["0", str(999_999 % 7)],
        ["1", str(999_998 % 7)],
        ["2", str(999_997 % 7)],
    ]
    column = await get(jp_fetch, kernel_id, "big", "children", path=path("x"), offset=10, limit=2)
    assert column["total"] == 1_000_000 and [c["value"] for c in column["children"]] == [
        "999989",
        "999988",
    ]


async def test_the_users_shell_is_untouched(
    jp_fetch: Fetch, sc_start_kernel: Any, sc_connect: Any
) -> None:
    """No execution count, no history, no name in the namespace, no recorded cell, and on
    another client's websocket nothing but the status pair of each request."""
    kernel_id, client = await start(sc_start_kernel, sc_connect)
    observer = await sc_connect(kernel_id)
    probe = {"history": "len(In)", "ours": "sorted(k for k in globals() if 'sidecar' in k)"}

    async def look() -> dict[str, Any]:
        msg_id = await client.execute("pass", user_expressions=probe)
        replies = await client.collect(msg_id)
        reply = next(m for m in replies if m["header"]["msg_type"] == "execute_reply")
        content: dict[str, Any] = reply["content"]
        while True:  # the observer sees the cell's idle last
            msg = await observer.receive()
            assert msg is not None
            if (
                msg["parent_header"].get("msg_id") == msg_id
                and msg["header"]["msg_type"] == "status"
                and msg["content"]["execution_state"] == "idle"
            ):
                return content

    before = await look()
    notebook = json.loads((await jp_fetch("api", "sidecar", "kernels", kernel_id, "notebook")).body)
    observer.received.clear()
    await get(jp_fetch, kernel_id, "nested", "children", path=path("obj"))
    chatty = await get(jp_fetch, kernel_id, "box", "children", offset=1, limit=1)  # prints
    assert chatty["children"][0]["value"] == "chatty"
    await get(jp_fetch, kernel_id, "df", "rows", sort="a")
    after = await look()
    assert after["execution_count"] == before["execution_count"] + 1
    text = {key: after["user_expressions"][key]["data"]["text/plain"] for key in probe}
    old = {key: before["user_expressions"][key]["data"]["text/plain"] for key in probe}
    assert int(text["history"]) == int(old["history"]) + 1 and text["ours"] == "[]"
    cells = json.loads((await jp_fetch("api", "sidecar", "kernels", kernel_id, "notebook")).body)
    assert len(cells["cells"]) == len(notebook["cells"]) + 1
    user = {
        m["parent_header"].get("msg_id")
        for m in observer.received
        if m["header"]["msg_type"] == "execute_input"
    }
    foreign = [m for m in observer.received if m["parent_header"].get("msg_id") not in user]
    # what a __repr__ prints goes out with no parent: no client shows it in a cell
    assert all(m["header"]["msg_type"] == "status" or not m["parent_header"] for m in foreign)
    assert "chatty repr" not in json.dumps([cell["outputs"] for cell in cells["cells"]])
    # the subshell requests' busy/idle pairs are kept from the clients: only the snapshot's
    # control requests (debug_request, kernel_info_request) show theirs
    assert not [m for m in foreign if m["parent_header"].get("msg_type") == "execute_request"]


async def test_a_page_during_a_running_cell_leaves_it_busy(
    jp_fetch: Fetch, jp_serverapp: Any, sc_start_kernel: Any, sc_connect: Any, tmp_path: Path
) -> None:
    """The subshell answers while the main shell runs a cell, and the kernel stays busy for
    the server (and for JupyterLab, which follows the same statuses)."""
    kernel_id, client = await start(sc_start_kernel, sc_connect)
    km = jp_serverapp.kernel_manager.get_kernel(kernel_id)
    release = tmp_path / "release"
    sleeper = await client.execute(blocking_cell(release, announce=True))
    await client.until_output(sleeper)  # the cell runs, until the test releases it
    assert km.execution_state == "busy"
    page = await get(jp_fetch, kernel_id, "df", "rows", limit=1)
    assert page["rows"] == [["3", "x"]]
    await get(jp_fetch, kernel_id, "nested", "children", limit=1)
    assert km.execution_state == "busy"
    release.touch()
    replies = await client.collect(sleeper)
    assert [m for m in replies if m["header"]["msg_type"] == "execute_reply"]
