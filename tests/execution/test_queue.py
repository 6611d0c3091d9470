"""The server-side execution queue, end to end with real kernels.

Comparison tests run each scenario twice on the same server: once through the stock kernel
websocket connection (a plain server: requests go straight to the kernel, which queues them
itself) and once through ours (requests held by the server), and assert that the client sees
the same messages: types, statuses, execution counts, order (per channel: shell and iopub are
separate sockets, so only the order within each is defined).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from tornado.httpclient import HTTPClientError

from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient, blocking_cell
from jupyter_sidecar_ext.tap.local import SidecarKernelConnection

PROTOCOLS = ["v1", "legacy"]
SETTING = "kernel_websocket_connection_class"
RELEASED = "print('released')"  # what the blocking cells print once released


@contextmanager
def stock_websockets(serverapp: Any) -> Iterator[None]:
    """Kernel websockets opened inside are the server's stock connection class (the setting
    is read when a websocket opens)."""
    settings = serverapp.web_app.settings
    ours = settings[SETTING]
    settings[SETTING] = ZMQChannelsWebsocketConnection
    try:
        yield
    finally:
        settings[SETTING] = ours


async def gather(
    client: KernelWebsocketClient, done: list[str], timeout: float = 60.0
) -> list[dict[str, Any]]:
    """Every message the client receives until each request in `done` had reply and idle."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pending = {msg_id: {"reply", "idle"} for msg_id in done}
    messages: list[dict[str, Any]] = []
    while any(pending.values()):
        msg = await client.receive(max(0.01, deadline - loop.time()))
        assert msg is not None, "websocket closed"
        messages.append(msg)
        parent = msg.get("parent_header", {}).get("msg_id")
        if parent in pending:
            if msg["header"]["msg_type"] == "execute_reply":
                pending[parent].discard("reply")
            elif msg["content"].get("execution_state") == "idle":
                pending[parent].discard("idle")
    return messages


def normalize(messages: list[dict[str, Any]], ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """What a client sees of requests `ids`, per channel, with requests as their index.
    Consecutive stream chunks are merged (chunking is up to the kernel's flush timing)."""
    index = {msg_id: i for i, msg_id in enumerate(ids)}
    channels: dict[str, list[tuple[Any, ...]]] = {"shell": [], "iopub": []}
    for msg in messages:
        i = index.get(msg.get("parent_header", {}).get("msg_id"))
        if i is None or msg["channel"] not in channels:
            continue
        msg_type, content = msg["header"]["msg_type"], msg["content"]
        seq = channels[msg["channel"]]
        if msg["channel"] == "shell":
            seq.append((i, msg_type, content.get("status"), content.get("execution_count")))
        elif msg_type == "status":
            seq.append((i, msg_type, content["execution_state"]))
        elif msg_type in ("execute_input", "execute_result"):
            seq.append((i, msg_type, content.get("execution_count")))
        elif msg_type == "error":
            seq.append((i, msg_type, content.get("ename")))
        elif msg_type == "stream":
            if seq and seq[-1][:3] == (i, msg_type, content["name"]):
                seq[-1] = (*seq[-1][:3], seq[-1][3] + content["text"])
            else:
                seq.append((i, msg_type, content["name"], content["text"]))
        else:
            seq.append((i, msg_type))
    return channels


async def fetch_json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch(*parts, **kwargs)
    return json.loads(response.body)


async def queue_of(jp_fetch: Any, kernel_id: str) -> dict[str, Any]:
    result: dict[str, Any] = await fetch_json(
        jp_fetch, "api", "sidecar", "kernels", kernel_id, "queue"
    )
    return result


class Compare:
    """Runs a scenario on a fresh kernel through a plain connection, then through ours."""

    def __init__(self, jp_serverapp: Any, sc_start_kernel: Any, sc_connect: Any) -> None:
        self.serverapp = jp_serverapp
        self.start_kernel = sc_start_kernel
        self.connect = sc_connect

    async def client(self, plain: bool, protocol: str = "v1") -> tuple[str, KernelWebsocketClient]:
        """A fresh kernel and a client of it."""
        kernel_id = await self.start_kernel()
        return kernel_id, await self.reconnect(kernel_id, plain, protocol)

    async def reconnect(
        self, kernel_id: str, plain: bool, protocol: str = "v1"
    ) -> KernelWebsocketClient:
        """A client of the kernel through a stock connection (plain) or ours, checked."""
        if plain:
            with stock_websockets(self.serverapp):
                client: KernelWebsocketClient = await self.connect(kernel_id, protocol)
        else:
            client = await self.connect(kernel_id, protocol)
        kinds = {
            type(connection)
            for connection in ZMQChannelsWebsocketConnection._open_sockets
            if connection.kernel_id == kernel_id
        }
        assert kinds == {ZMQChannelsWebsocketConnection if plain else SidecarKernelConnection}
        return client


@pytest.fixture
def compare(jp_serverapp: Any, sc_start_kernel: Any, sc_connect: Any) -> Compare:
    return Compare(jp_serverapp, sc_start_kernel, sc_connect)


async def run_cells(
    client: KernelWebsocketClient, cells: list[tuple[str, dict[str, Any]]]
) -> dict[str, list[tuple[Any, ...]]]:
    ids = [
        await client.execute(code, cell_id=f"c{i}", **flags)
        for i, (code, flags) in enumerate(cells)
    ]
    return normalize(await gather(client, ids), ids)


async def test_three_cells_queued_match_a_plain_kernel(compare: Compare, sc_registry: Any) -> None:
    cells: list[tuple[str, dict[str, Any]]] = [("a = 1", {}), ("print(a)", {}), ("a + 1", {})]
    _, plain_client = await compare.client(plain=True)
    plain = await run_cells(plain_client, cells)
    kernel_id, ours_client = await compare.client(plain=False)
    ours = await run_cells(ours_client, cells)
    assert ours == plain
    assert [entry[2:] for entry in ours["shell"]] == [("ok", 1), ("ok", 2), ("ok", 3)]
    assert ("execute_result", 3) in [entry[1:] for entry in ours["iopub"]]
    assert len(sc_registry.get(kernel_id).executor.queue) == 0


@pytest.mark.parametrize(
    ("middle_stops", "last_stops", "last_status"),
    [(True, True, "aborted"), (True, False, "aborted"), (False, True, "ok")],
)
async def test_an_error_in_the_middle_matches_a_plain_kernel(
    compare: Compare,
    sc_cell_finished: Any,
    middle_stops: bool,
    last_stops: bool,
    last_status: str,
) -> None:
    cells: list[tuple[str, dict[str, Any]]] = [
        ("1", {}),
        ("1 / 0", {"stop_on_error": middle_stops}),
        ("3", {"stop_on_error": last_stops}),
        ("4", {}),
    ]
    _, plain_client = await compare.client(plain=True)
    plain = await run_cells(plain_client, cells)
    kernel_id, ours_client = await compare.client(plain=False)
    ours = await run_cells(ours_client, cells)
    assert ours == plain
    statuses = [entry[2] for entry in ours["shell"]]
    assert statuses == ["ok", "error", last_status, last_status]
    # aborted ones: busy, idle on iopub, and nothing else
    if last_status == "aborted":
        assert [e for e in ours["iopub"] if e[0] == 2] == [
            (2, "status", "busy"),
            (2, "status", "idle"),
        ]
        assert (await sc_cell_finished(kernel_id, "c3"))["status"] == "aborted"


STOCK_INTERRUPT = ("api", "kernels", "{kernel_id}", "interrupt")
OUR_INTERRUPT = ("api", "sidecar", "kernels", "{kernel_id}", "queue", "interrupt")


async def interrupted_run(
    compare: Compare,
    jp_fetch: Any,
    plain: bool,
    tmp_path: Path,
    stop_on_error: bool,
    route: tuple[str, ...] = STOCK_INTERRUPT,
    params: dict[str, str] | None = None,
) -> dict[str, list[tuple[Any, ...]]]:
    kernel_id, client = await compare.client(plain=plain)
    never = tmp_path / f"never-{plain}"
    first = await client.execute(
        blocking_cell(never, announce=True, then=RELEASED),
        cell_id="first",
        stop_on_error=stop_on_error,
    )
    ids = [first, await client.execute("2", cell_id="b"), await client.execute("3", cell_id="c")]
    seen = await client.until_output(first)
    parts = [part.format(kernel_id=kernel_id) for part in route]
    response = await jp_fetch(*parts, method="POST", body="", params=params or {})
    if route == OUR_INTERRUPT:
        answer = json.loads(response.body)
        assert answer["kernel_id"] == kernel_id and answer["interrupted"] == first
        assert answer["continued"] is bool(params) and answer["waiting"] == 2
    return normalize(seen + await gather(client, ids), ids)


@pytest.mark.parametrize("stop_on_error", [True, False])
async def test_interrupt_with_two_queued_matches_a_plain_kernel(
    compare: Compare, jp_fetch: Any, tmp_path: Path, stop_on_error: bool
) -> None:
    plain = await interrupted_run(compare, jp_fetch, True, tmp_path, stop_on_error)
    ours = await interrupted_run(compare, jp_fetch, False, tmp_path, stop_on_error)
    assert ours == plain
    expected = ["aborted", "aborted"] if stop_on_error else ["ok", "ok"]
    assert [entry[2] for entry in ours["shell"]] == ["error", *expected]
    assert (0, "error", "KeyboardInterrupt") in ours["iopub"]


async def test_our_interrupt_without_continue_matches_a_plain_kernel(
    compare: Compare, jp_fetch: Any, tmp_path: Path
) -> None:
    plain = await interrupted_run(compare, jp_fetch, True, tmp_path, True)
    ours = await interrupted_run(compare, jp_fetch, False, tmp_path, True, OUR_INTERRUPT)
    assert ours == plain
    assert [entry[2] for entry in ours["shell"]] == ["error", "aborted", "aborted"]


async def test_interrupt_and_continue_runs_the_queue(
    compare: Compare, jp_fetch: Any, tmp_path: Path, sc_cell_finished: Any
) -> None:
    """What a plain kernel can only do for a cell sent with stop_on_error false: the
    interrupted cell ends with KeyboardInterrupt, the two queued behind it run. The client
    sees the same messages as in that plain run."""
    plain = await interrupted_run(compare, jp_fetch, True, tmp_path, stop_on_error=False)
    ours = await interrupted_run(
        compare, jp_fetch, False, tmp_path, True, OUR_INTERRUPT, {"continue": "true"}
    )
    assert ours == plain
    assert [entry[2:] for entry in ours["shell"]] == [("error", 1), ("ok", 2), ("ok", 3)]
    assert (0, "error", "KeyboardInterrupt") in ours["iopub"]
    assert (2, "execute_result", 3) in ours["iopub"]


async def test_interrupt_route_conflicts_and_bad_input(
    jp_fetch: Any, sc_start_kernel: Any, sc_registry: Any
) -> None:
    kernel_id = await sc_start_kernel()
    idle = await fetch_json(
        jp_fetch,
        *OUR_INTERRUPT[:3],
        kernel_id,
        "queue",
        "interrupt",
        method="POST",
        body="",
        params={"continue": "1"},
    )
    assert idle == {"kernel_id": kernel_id, "interrupted": None, "continued": True, "waiting": 0}
    cases = [
        ("no-such-kernel", {"continue": "true"}, 404),
        (kernel_id, {"continue": "maybe"}, 400),
    ]
    for kernel, params, code in cases:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch(
                *OUR_INTERRUPT[:3],
                kernel,
                "queue",
                "interrupt",
                method="POST",
                body="",
                params=params,
            )
        assert info.value.code == code and info.value.response is not None
        assert "message" in json.loads(info.value.response.body)
    sc_registry.get(kernel_id).executor.queue.enabled = False
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            *OUR_INTERRUPT[:3],
            kernel_id,
            "queue",
            "interrupt",
            method="POST",
            body="",
            params={"continue": "true"},
        )
    assert info.value.code == 409 and info.value.response is not None
    assert "disabled" in json.loads(info.value.response.body)["message"]


async def restarted_run(
    compare: Compare, jp_fetch: Any, plain: bool, tmp_path: Path
) -> dict[str, list[tuple[Any, ...]]]:
    kernel_id, client = await compare.client(plain=plain)
    first = await client.execute(
        blocking_cell(tmp_path / "never", announce=True, then=RELEASED), cell_id="first"
    )
    ids = [first, await client.execute("2", cell_id="b"), await client.execute("3", cell_id="c")]
    seen = await client.until_output(first)
    await jp_fetch("api", "kernels", kernel_id, "restart", method="POST", body="")
    # A new connection is nudged by the server until the new kernel answers on shell and
    # iopub (a plain connection's iopub may still be reconnecting, losing messages).
    fresh = await compare.reconnect(kernel_id, plain)
    after = await fresh.execute("'after'", cell_id="after")
    return normalize(seen + await gather(fresh, [after]), [*ids, after])


async def test_restart_with_two_queued_matches_a_plain_kernel(
    compare: Compare, jp_fetch: Any, tmp_path: Path
) -> None:
    """Restart interrupts the kernel, then asks it to shut down. What a plain kernel does
    with its queue meanwhile is a race with its own shutdown (it may start a queued request,
    or answer the interrupted one and abort the others, or its sockets close first); ours
    sends nothing more to a kernel being stopped. What must match: the interrupted cell, and
    a fresh kernel counting from 1 for the next request."""
    plain = await restarted_run(compare, jp_fetch, True, tmp_path)
    ours = await restarted_run(compare, jp_fetch, False, tmp_path)

    assert [e for e in ours["iopub"] if e[0] in (0, 3)] == [
        e for e in plain["iopub"] if e[0] in (0, 3)
    ]
    assert [e for e in ours["shell"] if e[0] == 3] == [e for e in plain["shell"] if e[0] == 3]
    # nothing more reached ours: the old requests were dropped with the old kernel
    assert ours["shell"] == [(3, "execute_reply", "ok", 1)]
    assert not [entry for entry in ours["iopub"] if entry[0] in (1, 2)]
    # nothing answers the requests the old kernel had; the new one counts from 1
    assert ours["shell"] == [(3, "execute_reply", "ok", 1)]


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_dequeue_answers_aborted_and_the_rest_runs(
    protocol: str,
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_cell_finished: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    tmp_path: Path,
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, protocol)
    release = tmp_path / "release"
    first = await client.execute(
        blocking_cell(release, announce=True, then=RELEASED), cell_id="first"
    )
    second = await client.execute("'second'", cell_id="second")
    third = await client.execute("'third'", cell_id="third")
    seen = await client.until_output(first)
    queue_ = sc_registry.get(kernel_id).executor.queue
    await sc_wait_until(lambda: len(queue_) == 2, what="two requests queued")

    queue = await queue_of(jp_fetch, kernel_id)
    assert queue["enabled"] is True
    assert queue["running"]["msg_id"] == first
    assert [entry["msg_id"] for entry in queue["queued"]] == [second, third]
    entry = queue["queued"][0]
    assert entry["cell_id"] == "second" and entry["code"] == "'second'"
    assert entry["source"] == "websocket" and entry["session"] == client.session.session
    assert entry["queued_at"].endswith("Z")
    kernels = await fetch_json(jp_fetch, "api", "sidecar", "kernels")
    assert next(k for k in kernels if k["kernel_id"] == kernel_id)["queued"] == 2

    removed = await fetch_json(
        jp_fetch, "api", "sidecar", "kernels", kernel_id, "queue", second, method="DELETE"
    )
    assert removed == {"msg_id": second, "removed": True}
    aborted = await gather(client, [second])
    mine = [m for m in aborted if m["parent_header"].get("msg_id") == second]
    assert [(m["channel"], m["header"]["msg_type"]) for m in mine] == [
        ("iopub", "status"),
        ("shell", "execute_reply"),
        ("iopub", "status"),
    ]
    assert [m["content"] for m in mine] == [
        {"execution_state": "busy"},
        {"status": "aborted"},
        {"execution_state": "idle"},
    ]
    assert mine[1]["metadata"]["status"] == "aborted"
    # the client's kernel status reads busy again: the first cell still runs
    status = await client.receive()
    assert status is not None and status["content"] == {"execution_state": "busy"}
    assert status["parent_header"]["msg_id"] == first
    assert (await sc_cell_finished(kernel_id, "second"))["status"] == "aborted"
    assert [e["msg_id"] for e in (await queue_of(jp_fetch, kernel_id))["queued"]] == [third]

    release.touch()  # the running cell was never interrupted
    rest = normalize(seen + aborted + await gather(client, [first, third]), [first, second, third])
    assert [e for e in rest["shell"] if e[0] != 1] == [
        (0, "execute_reply", "ok", 1),
        (2, "execute_reply", "ok", 2),
    ]
    assert (0, "stream", "stdout", "released\n") in rest["iopub"]  # ran to its end
    queue = await queue_of(jp_fetch, kernel_id)
    assert queue["running"] is None and queue["queued"] == []


async def test_dequeue_conflicts_and_unknowns(
    jp_fetch: Any, sc_start_kernel: Any, sc_connect: Any, tmp_path: Path
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id)
    release = tmp_path / "release"
    first = await client.execute(blocking_cell(release, announce=True, then=RELEASED))
    await client.until_output(first)
    for msg_id, code in [(first, 409), ("no-such-request", 404)]:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("api", "sidecar", "kernels", kernel_id, "queue", msg_id, method="DELETE")
        assert info.value.code == code
        assert "message" in json.loads(info.value.response.body)
    for parts in [("queue",), ("queue", first)]:
        with pytest.raises(HTTPClientError) as info:
            method = "DELETE" if len(parts) == 2 else "GET"
            await jp_fetch("api", "sidecar", "kernels", "no-such-kernel", *parts, method=method)
        assert info.value.code == 404
    release.touch()
    await gather(client, [first])


async def test_two_clients_queue_interleaved(
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    tmp_path: Path,
) -> None:
    kernel_id = await sc_start_kernel()
    one = await sc_connect(kernel_id, "v1")
    two = await sc_connect(kernel_id, "legacy")
    release = tmp_path / "release"
    a1 = await one.execute(blocking_cell(release, announce=True, then=RELEASED))
    await one.until_output(a1)
    queue_ = sc_registry.get(kernel_id).executor.queue
    b1 = await two.execute("'b1'")  # two websockets: wait for each to be queued in turn
    await sc_wait_until(lambda: len(queue_) == 1, what="b1 queued")
    a2 = await one.execute("'a2'")
    await sc_wait_until(lambda: len(queue_) == 2, what="a2 queued")
    b2 = await two.execute("'b2'")
    await sc_wait_until(lambda: len(queue_) == 3, what="b2 queued")
    queue = await queue_of(jp_fetch, kernel_id)
    assert [e["msg_id"] for e in queue["queued"]] == [b1, a2, b2]
    assert [e["session"] for e in queue["queued"]] == [
        two.session.session,
        one.session.session,
        two.session.session,
    ]
    release.touch()
    mine_one = normalize(await gather(one, [a1, a2]), [a1, a2])
    mine_two = normalize(await gather(two, [b1, b2]), [b1, b2])
    assert mine_one["shell"] == [(0, "execute_reply", "ok", 1), (1, "execute_reply", "ok", 3)]
    assert mine_two["shell"] == [(0, "execute_reply", "ok", 2), (1, "execute_reply", "ok", 4)]


@pytest.mark.parametrize("observer", [True, False])
async def test_requests_of_a_client_that_left_still_run(
    observer: bool,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_cell_finished: Any,
    tmp_path: Path,
) -> None:
    """With another client open the leaver's channels close (its queued requests go through
    the sidecar's own shell channel); alone, the server keeps them for a reconnect."""
    kernel_id = await sc_start_kernel()
    watcher = await sc_connect(kernel_id, "v1") if observer else None
    leaver = await sc_connect(kernel_id, "v1")
    release = tmp_path / "release"
    first = await leaver.execute(
        blocking_cell(release, announce=True, then=RELEASED), cell_id="first"
    )
    await leaver.execute("'second'", cell_id="second")
    await leaver.execute("1 / 0", cell_id="third")
    await leaver.execute("'fourth'", cell_id="fourth")
    await leaver.until_output(first)
    leaver.close()
    release.touch()
    assert (await sc_cell_finished(kernel_id, "first"))["execution_count"] == 1
    assert (await sc_cell_finished(kernel_id, "second"))["execution_count"] == 2
    third = await sc_cell_finished(kernel_id, "third")
    assert third["status"] == "error" and third["execution_count"] == 3
    assert (await sc_cell_finished(kernel_id, "fourth"))["status"] == "aborted"
    if watcher is not None:  # the kernel is still usable by others
        after = await watcher.execute("'after'")
        replies = [m for m in await watcher.collect(after) if m["channel"] == "shell"]
        assert replies[0]["content"]["execution_count"] == 4


@pytest.mark.parametrize("protocol", PROTOCOLS)
async def test_other_shell_requests_keep_their_place_behind_queued_cells(
    compare: Compare, tmp_path: Path, protocol: str
) -> None:
    """An inspection sent after a queued `x = 42` is answered after it ran, and sees x, as
    a plain kernel handles its shell requests in arrival order."""
    results = {}
    for plain in (True, False):
        flag = tmp_path / f"release-{plain}"
        _, client = await compare.client(plain=plain, protocol=protocol)
        first = await client.execute(
            blocking_cell(flag, announce=True, then=RELEASED), cell_id="c0"
        )
        await client.until_output(first)
        second = await client.execute("x = 42", cell_id="c1")
        inspect = await client.send("inspect_request", {"code": "x", "cursor_pos": 1})
        third = await client.execute("x + 1", cell_id="c2")
        flag.touch()
        messages = await gather(client, [first, second, third])
        inspected = [m for m in messages if m["header"]["msg_type"] == "inspect_reply"]
        assert len(inspected) == 1
        assert inspected[0]["content"]["found"] is True
        results[plain] = normalize(messages, [first, second, inspect, third])["shell"]
    assert results[False] == results[True]
    assert [entry[:2] for entry in results[False]] == [
        (0, "execute_reply"),
        (1, "execute_reply"),
        (2, "inspect_reply"),
        (3, "execute_reply"),
    ]
