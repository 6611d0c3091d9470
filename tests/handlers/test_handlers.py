"""REST contract of /api/sidecar: shapes, JSON errors, auth, and the event bus."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_sidecar_ext import __version__
from jupyter_sidecar_ext.events import CELL_CHANGED_SCHEMA


async def get_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    return json.loads((await jp_fetch(*parts, **kwargs)).body)


async def expect_error(jp_fetch: Any, status: int, *parts: str, **kwargs: Any) -> str:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, **kwargs)
    assert info.value.code == status
    assert info.value.response is not None
    body = json.loads(info.value.response.body)
    assert isinstance(body["message"], str) and body["message"]
    return str(body["message"])


@pytest.fixture
def ran_cells(
    jp_asyncio_loop: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
) -> str:
    """A kernel with two finished cells, 'one' then 'two'."""
    return str(
        jp_asyncio_loop.run_until_complete(
            _run_two_cells(sc_start_kernel, sc_connect, sc_registry, sc_wait_until)
        )
    )


async def _run_two_cells(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_wait_until: Any
) -> str:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    for cell_id in ("one", "two"):
        await client.collect(await client.execute(f"print('{cell_id}')", cell_id=cell_id))

    def finished() -> bool:
        notebook = sc_registry.find(kernel_id).notebook
        return all(
            # ended on its reply, with its outputs once its idle was seen (sc_cell_finished)
            (cell := notebook.get(cid)) is not None and cell.ended is not None and cell.idle
            for cid in ("one", "two")
        )

    await sc_wait_until(finished, what="two cells")
    return kernel_id


async def test_info(jp_fetch: Any) -> None:
    info = await get_json(jp_fetch, "api", "sidecar")
    assert info["version"] == __version__
    assert "record" in info["features"]


async def test_kernels_lists_running_kernels(jp_fetch: Any, ran_cells: str) -> None:
    kernels = await get_json(jp_fetch, "api", "sidecar", "kernels")
    (summary,) = [k for k in kernels if k["kernel_id"] == ran_cells]
    assert summary["alive"] is True
    assert summary["cells"] == 2
    assert summary["queued"] == 0
    assert summary["execution_state"] in {"idle", "busy"}
    assert summary["connections"] == 1
    assert summary["last_activity"]


async def test_notebook_and_since(jp_fetch: Any, ran_cells: str) -> None:
    notebook = await get_json(jp_fetch, "api", "sidecar", "kernels", ran_cells, "notebook")
    assert notebook["kernel_id"] == ran_cells
    assert [cell["id"] for cell in notebook["cells"]] == ["one", "two"]
    first_seq = notebook["cells"][0]["seq"]
    assert notebook["seq"] >= notebook["cells"][1]["seq"] > first_seq

    later = await get_json(
        jp_fetch, "api", "sidecar", "kernels", ran_cells, "notebook", params={"since": first_seq}
    )
    assert [cell["id"] for cell in later["cells"]] == ["two"]
    nothing = await get_json(
        jp_fetch,
        "api",
        "sidecar",
        "kernels",
        ran_cells,
        "notebook",
        params={"since": notebook["seq"]},
    )
    assert nothing["cells"] == []
    assert nothing["seq"] == notebook["seq"]


async def test_cell(jp_fetch: Any, ran_cells: str) -> None:
    cell = await get_json(jp_fetch, "api", "sidecar", "kernels", ran_cells, "cells", "two")
    assert set(cell) >= {
        "id",
        "msg_id",
        "source",
        "status",
        "execution_count",
        "outputs",
        "started",
        "ended",
        "seq",
        "truncated",
    }
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "two\n"}]


@pytest.mark.parametrize("since", ["abc", "-1", "1.5", ""])
async def test_bad_since_is_400(jp_fetch: Any, ran_cells: str, since: str) -> None:
    message = await expect_error(
        jp_fetch, 400, "api", "sidecar", "kernels", ran_cells, "notebook", params={"since": since}
    )
    assert "since" in message


@pytest.mark.parametrize(
    "parts",
    [
        ("kernels", "no-such-kernel", "notebook"),
        ("kernels", "no-such-kernel", "cells", "x"),
        ("no-such-endpoint",),
    ],
)
async def test_unknown_is_json_404(jp_fetch: Any, parts: tuple[str, ...]) -> None:
    await expect_error(jp_fetch, 404, "api", "sidecar", *parts)


async def test_unknown_cell_is_404(jp_fetch: Any, ran_cells: str) -> None:
    message = await expect_error(
        jp_fetch, 404, "api", "sidecar", "kernels", ran_cells, "cells", "nope"
    )
    assert "nope" in message


@pytest.mark.parametrize(
    "parts",
    [(), ("kernels",), ("kernels", "k", "notebook"), ("kernels", "k", "cells", "c"), ("other",)],
)
async def test_refuses_requests_without_a_token(jp_fetch: Any, parts: tuple[str, ...]) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", *parts, headers={"Authorization": ""})
    assert info.value.code in {401, 403}


async def test_cell_changes_are_pushed_on_the_event_bus(
    jp_ws_fetch: Any, sc_start_kernel: Any, sc_connect: Any
) -> None:
    events = await jp_ws_fetch("api", "events", "subscribe")
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    msg_id = await client.collect(await client.execute("print(1)", cell_id="pushed"))
    assert msg_id

    async def next_final_event() -> dict[str, Any]:
        while True:
            event = json.loads(await events.read_message())
            if (
                event.get("schema_id") == CELL_CHANGED_SCHEMA
                and event["cell_id"] == "pushed"
                and event["status"] == "ok"
            ):
                return dict(event)

    event = await asyncio.wait_for(next_final_event(), 30)
    events.close()
    assert event["kernel_id"] == kernel_id
    assert event["execution_count"] == 1
