"""Dataflow against real kernels: staleness, hidden state, snapshot-revealed changes, and the
REST routes (GET .../dataflow, POST .../plan, POST .../run)."""

from __future__ import annotations

import json
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from jupyter_sidecar_ext.app import SidecarApp
from jupyter_sidecar_ext.dataflow.service import DataflowService
from jupyter_sidecar_ext.events import CELL_CHANGED_SCHEMA
from jupyter_sidecar_ext.registry import SidecarRegistry

Fetch = Callable[..., Awaitable[Any]]


def dataflow_service(serverapp: Any) -> DataflowService:
    app: SidecarApp = next(iter(serverapp.extension_manager.extension_apps["jupyter_sidecar_ext"]))
    assert app.dataflow is not None
    return app.dataflow


async def get_json(jp_fetch: Fetch, *parts: str) -> dict[str, Any]:
    response = await jp_fetch("api", "sidecar", "kernels", *parts)
    payload: dict[str, Any] = json.loads(response.body)
    return payload


async def post_json(jp_fetch: Fetch, kernel_id: str, route: str, body: Any) -> dict[str, Any]:
    response = await jp_fetch(
        "api", "sidecar", "kernels", kernel_id, route, method="POST", body=json.dumps(body)
    )
    payload: dict[str, Any] = json.loads(response.body)
    return payload


async def refused(jp_fetch: Fetch, kernel_id: str, route: str, body: str) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", "kernels", kernel_id, route, method="POST", body=body)
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)["message"]


class Kernel:
    """Runs cells over HTTP under notebook cell ids; waits on the server's own state."""

    def __init__(self, kernel_id: str, serverapp: Any, sc_execute: Any, wait: Any) -> None:
        self.id = kernel_id
        self.service = dataflow_service(serverapp)
        self.registry: SidecarRegistry = self.service._registry
        self.execute = sc_execute
        self.wait_until = wait
        self.count = 0

    async def run(self, cell_id: str, code: str) -> None:
        result = await self.execute(self.id, code=code, cell_id=cell_id)
        assert result["status"] == "ok", result
        self.count = result["execution_count"]

    def stale_because(self, cell_id: str) -> list[dict[str, Any]]:
        sidecar = self.registry.find(self.id)
        cell = None if sidecar is None else sidecar.notebook.get(cell_id)
        return [] if cell is None else cell.stale_because

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        await self.wait_until(condition, timeout=30, what=what)

    async def analysed(self) -> None:
        """Every execution so far is in the history, analysed."""
        sidecar = self.registry.find(self.id)
        assert sidecar is not None

        def done() -> bool:
            history = self.service._flow(sidecar).history
            counts = {e.execution_count for e in history if e.names is not None}
            return self.count in counts

        await self.until(done, f"execution {self.count} to be analysed")

    async def snapshot_at(self, serverapp: Any) -> None:
        """The variables snapshot includes the last execution."""
        app = next(iter(serverapp.extension_manager.extension_apps["jupyter_sidecar_ext"]))
        sidecar = self.registry.find(self.id)

        def caught_up() -> bool:
            snapshot = app.variables.snapshot(sidecar)
            return bool(snapshot["state"] == "ok" and snapshot["execution_count"] == self.count)

        await self.until(caught_up, f"a snapshot at {self.count}")


@pytest.fixture
def start(
    sc_start_kernel: Any, jp_serverapp: Any, sc_execute: Any, sc_wait_until: Any
) -> Callable[[], Awaitable[Kernel]]:
    async def start_kernel() -> Kernel:
        return Kernel(await sc_start_kernel(), jp_serverapp, sc_execute, sc_wait_until)

    return start_kernel


async def test_a_redefinition_marks_readers_stale(start: Any, jp_fetch: Fetch) -> None:
    kernel = await start()
    await kernel.run("a", "x = 1")
    await kernel.run("b", "y = x + 1")
    await kernel.run("a", "x = 2")
    await kernel.until(lambda: bool(kernel.stale_because("b")), "b to be stale")
    [reason] = (await get_json(jp_fetch, kernel.id, "cells", "b"))["stale_because"]
    assert reason["name"] == "x" and reason["cell_id"] == "a"
    assert reason["execution_count"] == kernel.count and reason["at"]
    graph = await get_json(jp_fetch, kernel.id, "dataflow")
    cells = {cell["id"]: cell for cell in graph["cells"]}
    assert cells["b"]["stale_because"] == [reason] and cells["a"]["stale_because"] == []
    # The source as it ran, for a notebook to tell its edited cells.
    assert (cells["a"]["source"], cells["b"]["source"]) == ("x = 2", "y = x + 1")
    assert (cells["b"]["uses"], cells["a"]["defines"]) == (["x"], ["x"])
    assert {"from": "a", "to": "b", "names": ["x"]} in graph["edges"]
    await kernel.run("b", "y = x + 1")  # re-running the reader makes it current
    await kernel.until(lambda: not kernel.stale_because("b"), "b to be current")


async def test_a_cell_reading_state_no_current_cell_defines(start: Any, jp_fetch: Fetch) -> None:
    kernel = await start()
    await kernel.run("a", "z = 5")
    await kernel.run("b", "w = z * 2")
    await kernel.run("a", "q = 5")  # edited: the notebook no longer defines z
    await kernel.analysed()
    cells = {c["id"]: c for c in (await get_json(jp_fetch, kernel.id, "dataflow"))["cells"]}
    assert cells["b"]["hidden_names"] == ["z"]
    assert cells["a"]["hidden_names"] == []


async def test_a_mutation_only_the_snapshot_reveals(
    start: Any, jp_fetch: Fetch, jp_serverapp: Any
) -> None:
    """`grow()` reads as a call; only the snapshot after it shows `data` changed."""
    kernel = await start()
    await kernel.run("f", "data = [1]\ndef grow():\n    data.append(2)")
    await kernel.run("g", "total = len(data)")
    await kernel.snapshot_at(jp_serverapp)  # the next snapshot covers grow() alone
    await kernel.run("h", "grow()")
    await kernel.until(lambda: bool(kernel.stale_because("g")), "g to be stale")
    [reason] = kernel.stale_because("g")
    assert (reason["name"], reason["cell_id"]) == ("data", "h")
    cells = {c["id"]: c for c in (await get_json(jp_fetch, kernel.id, "dataflow"))["cells"]}
    assert "data" in cells["h"]["defines"] and cells["h"]["uses"] == ["grow"]


async def test_exec_is_seen_through_the_snapshot(start: Any, jp_serverapp: Any) -> None:
    kernel = await start()
    await kernel.run("a", "k = 1")
    await kernel.run("b", "print(k)")
    await kernel.snapshot_at(jp_serverapp)
    await kernel.run("c", "exec('k = 2')")
    await kernel.until(lambda: bool(kernel.stale_because("b")), "b to be stale")
    assert [r["cell_id"] for r in kernel.stale_because("b")] == ["c"]


# Executions wait this long to be taken in: only a reader (or a snapshot) takes them sooner.
TAKEN_IN_LATE = pytest.mark.parametrize(
    "jp_server_config", [{"DataflowService": {"record_delay": 600.0}}], indirect=True
)


@TAKEN_IN_LATE
async def test_a_reader_takes_noted_executions_in_first(start: Any, jp_fetch: Fetch) -> None:
    """An ended execution is only noted on the kernel->client path, and taken in
    `record_delay` later; a read does not wait for that."""
    kernel = await start()
    await kernel.run("a", "x = 1")
    await kernel.run("b", "y = x + 1")
    await kernel.run("a", "x = 2")
    service, sidecar = kernel.service, kernel.registry.find(kernel.id)
    assert sidecar is not None
    await kernel.until(lambda: len(service._noted) == 3, "three executions noted")
    assert service._flow(sidecar).history == [] and kernel.stale_because("b") == []
    cells = {c["id"]: c for c in (await get_json(jp_fetch, kernel.id, "dataflow"))["cells"]}
    assert [r["cell_id"] for r in cells["b"]["stale_because"]] == ["a"]
    assert [r["cell_id"] for r in kernel.stale_because("b")] == ["a"]  # set on the cell too
    assert service._noted == [] and len(service._flow(sidecar).history) == 3


@TAKEN_IN_LATE
async def test_a_snapshot_takes_noted_executions_in_first(start: Any, jp_serverapp: Any) -> None:
    """The snapshot's changes are credited to executions it covers: they must be recorded."""
    kernel = await start()
    await kernel.run("f", "data = [1]\ndef grow():\n    data.append(2)")
    await kernel.run("g", "total = len(data)")
    await kernel.snapshot_at(jp_serverapp)
    await kernel.run("h", "grow()")
    await kernel.until(lambda: bool(kernel.stale_because("g")), "g to be stale")
    assert [r["cell_id"] for r in kernel.stale_because("g")] == ["h"]


NOTEBOOK = [
    {"id": "load", "source": "raw = list(range(5))"},
    {"id": "clean", "source": "clean = [v for v in raw if v]"},
    {"id": "other", "source": "unrelated = 1"},
    {"id": "report", "source": "total = sum(clean)\nprint(total)"},
]


async def test_plans(start: Any, jp_fetch: Fetch) -> None:
    kernel = await start()
    body = {"cells": NOTEBOOK, "target": "report", "direction": "upstream"}
    plan = await post_json(jp_fetch, kernel.id, "plan", body)
    assert plan == {**body, "kernel_id": kernel.id, "cells": ["load", "clean", "report"]}
    await kernel.run("load", "raw = list(range(5))")
    await kernel.analysed()
    plan = await post_json(jp_fetch, kernel.id, "plan", body)
    assert plan["cells"] == ["clean", "report"]  # load is current
    down = await post_json(
        jp_fetch, kernel.id, "plan", {**body, "target": "load", "direction": "downstream"}
    )
    assert down["cells"] == ["load", "clean", "report"]


async def test_run_queues_the_plan(start: Any, jp_fetch: Fetch, sc_cell_finished: Any) -> None:
    kernel = await start()
    body = {"cells": NOTEBOOK, "target": "report", "direction": "upstream"}
    queued = await post_json(jp_fetch, kernel.id, "run", body)
    assert [cell["id"] for cell in queued["cells"]] == ["load", "clean", "report"]
    report = await sc_cell_finished(kernel.id, "report")
    assert report["status"] == "ok"
    assert report["outputs"][0]["text"] == "10\n"
    assert report["msg_id"] == queued["cells"][-1]["msg_id"]


async def test_a_run_waits_until_the_kernel_is_heard(
    start: Any, jp_fetch: Fetch, jp_serverapp: Any, sc_cell_finished: Any, monkeypatch: Any
) -> None:
    """Nothing is sent before the sidecar receives the kernel's iopub (a kernel just started,
    or restarting): what the kernel publishes before is never seen, and a cell missing its
    idle never finishes. Meanwhile a run waits, then answers 503 with nothing queued."""
    kernel = await start()
    sidecar = kernel.registry.find(kernel.id)
    assert sidecar is not None
    process = jp_serverapp.kernel_manager.get_kernel(kernel.id).provisioner.process
    body = {"cells": NOTEBOOK, "target": "report", "direction": "upstream"}
    monkeypatch.setattr("jupyter_sidecar_ext.handlers.base.READY_WAIT", 0.2)
    process.send_signal(signal.SIGSTOP)  # it answers no nudge
    try:
        sidecar.channels.follow_restart()  # receiving again once a nudge is answered
        code, message = await refused(jp_fetch, kernel.id, "run", json.dumps(body))
        assert (code, message) == (503, f"Kernel {kernel.id} is not ready")
        assert sidecar.notebook.get("load") is None and not sidecar.executor.queue.running
    finally:
        process.send_signal(signal.SIGCONT)
    monkeypatch.setattr("jupyter_sidecar_ext.handlers.base.READY_WAIT", 60.0)
    sidecar.channels.follow_restart()
    queued = await post_json(jp_fetch, kernel.id, "run", body)  # waits for the nudge's answer
    report = await sc_cell_finished(kernel.id, "report")
    assert (report["status"], report["outputs"][0]["text"]) == ("ok", "10\n")
    assert report["msg_id"] == queued["cells"][-1]["msg_id"]


async def test_a_planned_cell_waits_for_input(
    start: Any, jp_fetch: Fetch, sc_cell_finished: Any, caplog: Any
) -> None:
    """A planned cell calling input() waits for POST .../input (not a failed run), and the
    cells behind it run once it is answered."""
    kernel = await start()
    cells = [
        {"id": "ask", "source": "who = input('who? ')"},
        {"id": "greet", "source": "print(who)"},
    ]
    body = {"cells": cells, "target": "greet", "direction": "upstream"}
    await post_json(jp_fetch, kernel.id, "run", body)
    sidecar = kernel.registry.find(kernel.id)
    assert sidecar is not None

    def asking() -> bool:
        cell = sidecar.notebook.get("ask")
        return cell is not None and cell.input_request is not None

    await kernel.until(asking, "the planned cell to ask for input")
    await post_json(jp_fetch, kernel.id, "input", {"value": "ada"})
    greet = await sc_cell_finished(kernel.id, "greet")
    assert greet["status"] == "ok"
    assert greet["outputs"][0]["text"] == "ada\n"
    assert "could not run" not in caplog.text


async def test_bad_requests(start: Any, jp_fetch: Fetch) -> None:
    kernel = await start()
    good = {"cells": NOTEBOOK, "target": "report", "direction": "upstream"}
    for route in ("plan", "run"):
        code, message = await refused(
            jp_fetch, kernel.id, route, json.dumps({**good, "target": "nope"})
        )
        assert (code, message) == (400, "Cell not in the notebook: nope")
        code, message = await refused(
            jp_fetch, kernel.id, route, json.dumps({**good, "direction": "up"})
        )
        assert code == 400 and message.startswith("direction")
        twice = {**good, "cells": [*NOTEBOOK, NOTEBOOK[0]]}
        code, message = await refused(jp_fetch, kernel.id, route, json.dumps(twice))
        assert code == 400 and "repeat" in message
        code, message = await refused(jp_fetch, kernel.id, route, "[]")
        assert code == 400
        code, message = await refused(jp_fetch, "no-such-kernel", route, json.dumps(good))
        assert (code, message) == (404, "Kernel not found: no-such-kernel")
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("api", "sidecar", "kernels", "no-such-kernel", "dataflow")
    assert info.value.code == 404


async def test_cell_changed_events_count_stale_inputs(start: Any, jp_serverapp: Any) -> None:
    """Events say how many inputs changed (a count: names stay out of events)."""
    kernel = await start()
    seen: list[dict[str, Any]] = []

    async def listener(logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        if data["kernel_id"] == kernel.id and data["cell_id"] == "b":
            seen.append(dict(data))

    jp_serverapp.event_logger.add_listener(schema_id=CELL_CHANGED_SCHEMA, listener=listener)
    await kernel.run("a", "x = 1; w = 1")
    await kernel.run("b", "y = x + w")
    await kernel.run("a", "x = 2; w = 2")
    await kernel.until(lambda: any(e["stale_inputs"] for e in seen), "a stale event for b")
    assert [e["stale_inputs"] for e in seen if e["stale_inputs"]] == [2]
    assert all(set(e) <= {*EVENT_FIELDS} for e in seen)


EVENT_FIELDS = (
    "kernel_id",
    "cell_id",
    "msg_id",
    "status",
    "execution_count",
    "seq",
    "input_request",
    "stale_inputs",
)


@pytest.mark.parametrize(
    "jp_server_config", [{"DataflowService": {"inline_max_chars": 0}}], indirect=True
)
async def test_cells_analysed_in_threads(start: Any, jp_fetch: Fetch) -> None:
    """Every cell analysed off the loop: staleness is rebuilt as the analyses end."""
    kernel = await start()
    await kernel.run("a", "x = 1")
    await kernel.run("b", "y = x + 1")
    await kernel.run("a", "x = 2")
    await kernel.until(lambda: bool(kernel.stale_because("b")), "b to be stale")
    assert [r["cell_id"] for r in kernel.stale_because("b")] == ["a"]
    await kernel.analysed()
    cells = {c["id"]: c for c in (await get_json(jp_fetch, kernel.id, "dataflow"))["cells"]}
    assert cells["b"]["uses"] == ["x"] and cells["b"]["analysed"]


def test_a_snapshot_covers_the_executions_counted_in_its_range() -> None:
    """`_covered` walks back from the history's end; it finds what a scan of the whole
    history finds (counts may repeat: store_history=False; or be missing)."""
    from jupyter_sidecar_ext.dataflow.graph import Execution
    from jupyter_sidecar_ext.dataflow.service import _covered

    counts = [1, 2, None, 3, 3, 4, None, 5, 7, 8, 8, 9]
    history = [Execution(f"c{i}", n, "x", None, seq=i) for i, n in enumerate(counts)]
    for since in [None, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]:
        for count in range(0, 11):
            scanned = [
                i
                for i, e in enumerate(history)
                if e.execution_count is not None
                and e.execution_count <= count
                and (since is None or e.execution_count > since)
            ]
            expected = (scanned[0], scanned[-1]) if scanned else None
            assert _covered(history, since, count) == expected, (since, count)
