"""ShadowNotebook from scripted kernel messages (no kernel), in the style of nbclient's
``tests/test_client.py``. Every notebook made here is checked for nbformat validity.
"""

from __future__ import annotations

import json
import re
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import nbformat
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nbformat.v4 import new_code_cell, new_notebook

from jupyter_sidecar_ext.record.shadow import ShadowCell, ShadowNotebook

Msg = tuple[str, dict[str, Any]]
BUSY = {"execution_state": "busy"}
IDLE = {"execution_state": "idle"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def stream(text: str, name: str = "stdout") -> Msg:
    return "stream", {"name": name, "text": text}


def display(text: str, display_id: str | None = None, msg_type: str = "display_data") -> Msg:
    content: dict[str, Any] = {"data": {"text/plain": text}, "metadata": {}}
    if display_id is not None:
        content["transient"] = {"display_id": display_id}
    return msg_type, content


def update(text: str, display_id: str) -> Msg:
    return display(text, display_id, "update_display_data")


def result(text: str, count: int) -> Msg:
    content = {"data": {"text/plain": text}, "metadata": {}, "execution_count": count}
    return "execute_result", content


def error(ename: str = "ValueError", evalue: str = "bad") -> Msg:
    return "error", {"ename": ename, "evalue": evalue, "traceback": ["Traceback", evalue]}


def clear(wait: bool = False) -> Msg:
    return "clear_output", {"wait": wait}


def send(nb: ShadowNotebook, msg_id: str | None, *msgs: Msg, now: float = 50.0) -> list[ShadowCell]:
    changed: list[ShadowCell] = []
    for msg_type, content in msgs:
        changed += nb.handle_iopub(msg_type, msg_id, content, now=now)
    return changed


def run_cell(
    nb: ShadowNotebook,
    msg_id: str,
    *msgs: Msg,
    cell_id: str | None = None,
    count: int = 1,
    reply: str = "ok",
    t0: float = 100.0,
) -> ShadowCell:
    """A whole execution: request, busy, execute_input, outputs, idle, reply."""
    cell = nb.add_request(msg_id, f"code of {msg_id}", cell_id, now=t0)
    send(nb, msg_id, ("status", BUSY), now=t0 + 1)
    send(nb, msg_id, ("execute_input", {"code": cell.source, "execution_count": count}))
    send(nb, msg_id, *msgs, now=t0 + 2)
    send(nb, msg_id, ("status", IDLE), now=t0 + 3)
    nb.handle_reply(msg_id, {"status": reply, "execution_count": count}, now=t0 + 4)
    return cell


def assert_valid(cell: ShadowCell) -> None:
    code = new_code_cell(  # type: ignore[no-untyped-call]
        cell.source, outputs=cell.outputs, execution_count=cell.execution_count
    )
    notebook = new_notebook(cells=[code])  # type: ignore[no-untyped-call]
    nbformat.validate(notebook)
    assert all("transient" not in output for output in cell.outputs)
    data = json.loads(json.dumps(cell.to_dict()))
    assert set(data) == {
        "id", "msg_id", "source", "status", "execution_count", "outputs", "started", "ended",
        "seq", "truncated", "run", "stale", "stale_because", "gap", "input_request", "unwatched",
    }  # fmt: skip
    for key in ("started", "ended"):
        assert data[key] is None or ISO.match(data[key])


@pytest.fixture
def make_nb() -> Iterator[Callable[..., ShadowNotebook]]:
    made: list[ShadowNotebook] = []

    def make(**kwargs: int) -> ShadowNotebook:
        made.append(ShadowNotebook(**kwargs))
        return made[-1]

    yield make
    for notebook in made:
        for cell in notebook.cells():
            assert_valid(cell)


@pytest.fixture
def nb(make_nb: Callable[..., ShadowNotebook]) -> ShadowNotebook:
    return make_nb()


def texts(cell: ShadowCell) -> list[str]:
    return [
        o["text"] if o["output_type"] == "stream" else o["data"]["text/plain"] for o in cell.outputs
    ]


# -- lifecycle ---------------------------------------------------------------------------


def test_lifecycle_queued_running_ok(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "print(1)", "cell-1", now=10.0)
    assert (cell.id, cell.msg_id, cell.status, cell.started) == ("cell-1", "m1", "queued", None)
    assert nb.handle_iopub("status", "m1", BUSY, now=11.0) == [cell]
    assert (cell.status, cell.started) == ("running", 11.0)
    send(nb, "m1", ("execute_input", {"code": "print(1)", "execution_count": 7}))
    assert cell.execution_count == 7
    assert send(nb, "m1", stream("1\n")) == [cell]
    assert nb.handle_iopub("status", "m1", IDLE, now=12.5) == [cell]
    assert (cell.status, cell.ended) == ("ok", 12.5)
    nb.handle_reply("m1", {"status": "ok", "execution_count": 7}, now=13.0)
    assert (cell.status, cell.ended, cell.execution_count) == ("ok", 12.5, 7)
    assert cell.outputs == [{"output_type": "stream", "name": "stdout", "text": "1\n"}]
    data = cell.to_dict()
    assert data["started"] == "1970-01-01T00:00:11.000000Z"
    assert data["ended"] == "1970-01-01T00:00:12.500000Z"
    assert nb.get("cell-1") is nb.get("m1") is nb.by_msg_id("m1") is cell
    assert nb.to_dict()["cells"] == [data] and nb.to_dict()["seq"] == nb.seq == cell.seq


def test_a_pending_input_request_is_kept_until_answered_or_the_run_ends(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "input('name? ')", "cell-1")
    nb.handle_iopub("status", "m1", BUSY)
    assert nb.set_input_request("m1", "name? ", False) == [cell]
    assert cell.to_dict()["input_request"] == {"prompt": "name? ", "password": False}
    assert nb.clear_input_request("m1") == [cell] and cell.input_request is None
    assert nb.clear_input_request("m1") == []  # nothing to clear: no change
    nb.set_input_request("m1", "again? ", True)
    nb.handle_iopub("status", "m1", IDLE)  # the run ended (interrupted, say)
    assert cell.input_request is None
    assert nb.set_input_request("m1", "late? ", False) == []  # a finished run asks nothing
    assert nb.set_input_request("unknown", "x", False) == []

    second = nb.add_request("m2", "input()", "cell-2")
    nb.set_input_request("m2", "", False)
    nb.handle_reply("m2", {"status": "error"})
    assert second.input_request is None
    third = nb.add_request("m3", "input()", "cell-3")
    nb.set_input_request("m3", "", False)
    nb.mark_restart()
    assert third.input_request is None


def test_messages_for_unknown_parents_are_ignored(nb: ShadowNotebook) -> None:
    run_cell(nb, "m1", stream("a"))
    before = nb.seq
    for msg in (stream("x"), display("x"), error(), clear(), ("status", IDLE), ("comm_msg", {})):
        assert send(nb, "nobody", msg) == []
        assert send(nb, None, msg) == []
    assert nb.handle_reply("nobody", {"status": "ok"}) == []
    assert nb.seq == before


def test_execute_input_from_a_client_we_did_not_intercept(nb: ShadowNotebook) -> None:
    send(nb, "foreign", ("status", BUSY))  # before execute_input we know nothing of it
    [cell] = send(nb, "foreign", ("execute_input", {"code": "1 + 1", "execution_count": 3}))
    assert (cell.id, cell.msg_id, cell.source) == ("foreign", "foreign", "1 + 1")
    assert (cell.status, cell.execution_count, cell.started) == ("running", 3, 50.0)
    send(nb, "foreign", result("2", 3), ("status", IDLE))
    assert cell.status == "ok"
    assert cell.outputs == [
        {"output_type": "execute_result", "data": {"text/plain": "2"}, "metadata": {},
         "execution_count": 3}
    ]  # fmt: skip


def test_a_foreign_execution_identified_takes_its_cells_place(nb: ShadowNotebook) -> None:
    nb.add_request("m0", "1 + 1", "c1")
    send(nb, "m0", ("status", BUSY), ("status", IDLE))
    nb.take_evicted()
    send(nb, "foreign", ("execute_input", {"code": "1 + 1", "execution_count": 3}))
    [cell] = nb.identify("foreign", "c1")
    assert (cell.id, cell.msg_id) == ("c1", "foreign")
    assert nb.get("c1") is cell and nb.get("foreign") is cell  # by id, and by msg_id
    assert [c.id for c in nb.cells()] == ["c1"]  # the earlier run of c1 is replaced
    assert nb.take_evicted() == ["foreign"]  # the store forgets the msg_id key
    send(nb, "foreign", ("stream", {"name": "stdout", "text": "x"}), ("status", IDLE))
    assert (cell.status, cell.outputs[0]["text"]) == ("ok", "x")
    send(nb, "m0", ("stream", {"name": "stdout", "text": "late"}))  # the replaced run's
    assert cell.outputs[0]["text"] == "x"
    assert nb.identify("foreign", "c2") == []  # only executions known by msg_id alone


# -- status, reply and idle ----------------------------------------------------------------


def test_reply_before_idle_decides(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x", now=1.0)
    send(nb, "m1", ("status", BUSY), now=2.0)
    nb.handle_reply("m1", {"status": "error", "execution_count": 4}, now=3.0)
    assert (cell.status, cell.execution_count, cell.ended) == ("error", 4, 3.0)
    assert not cell.idle  # its outputs may still be on their way
    assert send(nb, "m1", ("status", IDLE), now=4.0) == []
    assert (cell.status, cell.ended, cell.idle) == ("error", 3.0, True)


def test_a_restart_leaves_nothing_to_wait_for(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x", now=1.0)
    send(nb, "m1", ("status", BUSY), now=2.0)
    nb.mark_restart(now=3.0)
    assert (cell.status, cell.idle) == ("aborted", True)


def test_idle_before_reply_then_reply_wins(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x", now=1.0)
    send(nb, "m1", ("status", BUSY), ("execute_input", {"execution_count": 1}), now=2.0)
    send(nb, "m1", ("status", IDLE), now=3.0)
    assert cell.status == "ok"
    nb.handle_reply("m1", {"status": "error", "execution_count": 1}, now=4.0)
    assert (cell.status, cell.ended) == ("error", 3.0)


def test_error_output_makes_idle_final_status_error(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "raise ValueError('bad')")
    send(nb, "m1", ("status", BUSY), error(), ("status", IDLE))
    assert cell.status == "error"
    assert cell.outputs == [
        {"output_type": "error", "ename": "ValueError", "evalue": "bad",
         "traceback": ["Traceback", "bad"]}
    ]  # fmt: skip


def test_busy_read_after_the_reply(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x")
    nb.handle_reply("m1", {"status": "ok", "execution_count": 1}, now=5.0)
    send(nb, "m1", ("status", BUSY), now=6.0)
    assert (cell.status, cell.started, cell.ended) == ("ok", 5.0, 5.0)


@pytest.mark.parametrize(("status", "expected"), [("aborted", "aborted"), ("weird", "error")])
def test_reply_status(nb: ShadowNotebook, status: str, expected: str) -> None:
    cell = nb.add_request("m1", "x")
    nb.handle_reply("m1", {"status": status}, now=5.0)
    assert (cell.status, cell.execution_count, cell.ended) == (expected, None, 5.0)


def test_page_payload_is_shown_like_jupyterlab(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "len?")
    page = {"source": "page", "data": {"text/plain": "Signature: len(obj, /)"}, "start": 0}
    nb.handle_reply("m1", {"status": "ok", "execution_count": 1, "payload": [page]})
    assert texts(cell) == ["Signature: len(obj, /)"]


# -- streams -------------------------------------------------------------------------------


def test_streams_merge_by_name_and_split_on_other_outputs(nb: ShadowNotebook) -> None:
    cell = run_cell(
        nb, "m1",
        stream("a\n"), stream("b\n"), stream("warn\n", "stderr"), stream("c\n"),
        display("fig"), stream("d\n"), stream("e\n"),
    )  # fmt: skip
    assert texts(cell) == ["a\nb\n", "warn\n", "c\n", "fig", "d\ne\n"]
    assert [o.get("name") for o in cell.outputs] == ["stdout", "stderr", "stdout", None, "stdout"]


def test_tqdm_progress_bar_ends_as_one_line(nb: ShadowNotebook) -> None:
    bars = [f"\r{p:3d}%|{'█' * (p // 10):<10}| {p}/100 [00:0{p // 50}<00:00]" for p in range(101)]
    chunks = ["Epoch 1\n", *bars[:50], "".join(bars[50:90]), *bars[90:], "\n", "done\n"]
    cell = run_cell(nb, "m1", *(stream(c, "stderr") for c in chunks))
    assert texts(cell) == ["Epoch 1\n100%|██████████| 100/100 [00:02<00:00]\ndone\n"]


def test_trailing_carriage_return_is_pending_across_messages(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x")
    send(nb, "m1", stream("loading 10%\r"))
    assert texts(cell) == ["loading 10%"]
    send(nb, "m1", stream("loading 99%\r"))
    assert texts(cell) == ["loading 99%"]
    send(nb, "m1", stream("ready      \n"))
    assert texts(cell) == ["ready      \n"]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["a\r\n", "b\r", "\n"], "a\nb\n"),
        (["abc\b\bd\n"], "ad\n"),
        (["12345\b", "\b\b"], "12"),
        (["line\n", "\b\b"], "line\n"),
        (["abcdef\rXY"], "XYcdef"),
    ],
)
def test_carriage_return_and_backspace(
    nb: ShadowNotebook, chunks: list[str], expected: str
) -> None:
    assert texts(run_cell(nb, "m1", *(stream(c) for c in chunks))) == [expected]


def jupyterlab_text(text: str) -> str:
    """JupyterLab 4.6 ``Private.processText`` over a whole text (see test_output_area)."""
    out, index = "", 0
    for char in text:
        if char == "\b":
            if index > 0 and out[index - 1] != "\n":
                out, index = out[: index - 1] + out[index + 1 :], index - 1
        elif char == "\r":
            while index > 0 and out[index - 1] != "\n":
                index -= 1
        elif char == "\n":
            out += "\n"
            index = len(out)
        else:
            out, index = out[:index] + char + out[index + 1 :], index + 1
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="xy \n\r\b", max_size=10), min_size=1, max_size=30))
def test_stream_messages_equal_jupyterlab_on_the_concatenation(chunks: list[str]) -> None:
    nb = ShadowNotebook()
    cell = nb.add_request("m1", "x")
    send(nb, "m1", *(stream(c) for c in chunks))
    assert cell.outputs == [
        {"output_type": "stream", "name": "stdout", "text": jupyterlab_text("".join(chunks))}
    ]
    assert_valid(cell)


# -- clear_output ----------------------------------------------------------------------------


def test_clear_output_now(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x")
    send(nb, "m1", stream("a\n"), display("d", "disp"))
    assert send(nb, "m1", clear()) == [cell]
    assert cell.outputs == []
    assert send(nb, "m1", update("new", "disp")) == []  # cleared outputs leave the id map
    send(nb, "m1", stream("b\n"))
    assert texts(cell) == ["b\n"]


@pytest.mark.parametrize(
    ("next_msg", "expected"),
    [
        (stream("new\n"), ["new\n"]),
        (display("new"), ["new"]),
        (result("new", 1), ["new"]),
        (error("E", "new"), [None]),
    ],
)
def test_clear_output_wait_clears_before_next_output(
    nb: ShadowNotebook, next_msg: Msg, expected: list[str | None]
) -> None:
    cell = nb.add_request("m1", "x")
    send(nb, "m1", stream("old\n"), display("old"))
    assert send(nb, "m1", clear(wait=True)) == []
    assert texts(cell) == ["old\n", "old"]  # still shown until something replaces it
    send(nb, "m1", next_msg)
    assert [o.get("text", o.get("data", {}).get("text/plain")) for o in cell.outputs] == expected


def test_repeated_clear_wait_clears_once(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x")
    for n in range(3):
        send(nb, "m1", clear(wait=True), clear(wait=True), stream(f"frame {n}\n"), stream("."))
    assert texts(cell) == ["frame 2\n."]


def test_clear_wait_then_update_display_updates_the_old_output(nb: ShadowNotebook) -> None:
    # OutputArea._onIOPub applies update_display_data with model.set(), which does not
    # trigger the pending clear; the next added output does.
    cell = nb.add_request("m1", "x")
    send(nb, "m1", display("v1", "d"), stream("log\n"), clear(wait=True))
    assert send(nb, "m1", update("v2", "d")) == [cell]
    assert texts(cell) == ["v2", "log\n"]
    send(nb, "m1", stream("after\n"))
    assert texts(cell) == ["after\n"]
    assert send(nb, "m1", update("v3", "d")) == []


def test_clear_wait_at_the_end_keeps_the_outputs(nb: ShadowNotebook) -> None:
    cell = run_cell(nb, "m1", stream("kept\n"), clear(wait=True))
    assert texts(cell) == ["kept\n"]


# -- display ids -----------------------------------------------------------------------------


def test_update_display_data_across_two_cells(nb: ShadowNotebook) -> None:
    first = run_cell(nb, "m1", display("v1", "progress"), stream("x\n"), cell_id="A")
    second = run_cell(nb, "m2", display("other", "other"), cell_id="B", t0=200.0)
    since = nb.seq
    changed = send(nb, "m2", update("v2", "progress"))
    assert changed == [first]
    assert first.seq == nb.seq and second.seq == since
    assert [c.id for c in nb.cells(since=since)] == ["A"]
    assert texts(first) == ["v2", "x\n"]
    assert texts(second) == ["other"]
    assert first.outputs[0] == {
        "output_type": "display_data", "data": {"text/plain": "v2"}, "metadata": {}
    }  # fmt: skip


def test_update_display_data_applies_whatever_its_parent(nb: ShadowNotebook) -> None:
    first = run_cell(nb, "m1", display("v1", "d"))
    assert send(nb, "someone-else", update("v2", "d")) == [first]
    assert send(nb, None, update("v3", "d")) == [first]
    assert texts(first) == ["v3"]


def test_display_data_with_a_known_id_updates_earlier_outputs(nb: ShadowNotebook) -> None:
    # KernelConnection._handleDisplayId: a new display_data with a display id seen
    # before first updates every output with that id, then is shown too.
    first = run_cell(nb, "m1", display("v1", "d"), cell_id="A")
    second = nb.add_request("m2", "x", "B")
    assert send(nb, "m2", display("v2", "d")) == [first, second]
    assert texts(first) == texts(second) == ["v2"]
    send(nb, "m2", update("v3", "d"))
    assert texts(first) == texts(second) == ["v3"]


def test_execute_result_with_display_id_updates_but_is_not_updated(nb: ShadowNotebook) -> None:
    first = run_cell(nb, "m1", display("v1", "d"))
    second = nb.add_request("m2", "x")
    send(nb, "m2", display("r1", "d", msg_type="execute_result"))
    assert texts(first) == ["r1"]
    assert second.outputs[0]["output_type"] == "execute_result"
    send(nb, "m2", update("v3", "d"))
    assert texts(first) == ["v3"] and texts(second) == ["r1"]


def test_update_for_unknown_display_id_is_ignored(nb: ShadowNotebook) -> None:
    cell = run_cell(nb, "m1", display("v1", "d"))
    before = nb.seq
    assert send(nb, "m1", update("v2", "nope")) == []
    assert nb.seq == before and texts(cell) == ["v1"]


def test_transient_is_stripped_and_metadata_kept(nb: ShadowNotebook) -> None:
    content = {
        "data": {"text/plain": "x", "application/json": {"a": [1, 2]}},
        "metadata": {"isolated": True},
        "transient": {"display_id": "d"},
    }
    cell = run_cell(nb, "m1", ("display_data", content))
    assert cell.outputs == [
        {"output_type": "display_data", "data": content["data"], "metadata": {"isolated": True}}
    ]


def test_malformed_content_still_gives_valid_nbformat(nb: ShadowNotebook) -> None:
    cell = run_cell(
        nb, "m1",
        ("display_data", {"data": {"text/plain": 5, "image/png": None}}),
        ("execute_result", {"data": "oops", "execution_count": -1}),
        ("error", {"ename": None, "traceback": "not a list"}),
        ("stream", {"name": "stdout", "text": ["a", "b\n"]}),
    )  # fmt: skip
    assert cell.outputs[0]["data"] == {"text/plain": "5", "image/png": "null"}
    assert cell.outputs[1]["execution_count"] is None
    assert cell.outputs[2]["traceback"] == []
    assert cell.outputs[3]["text"] == "ab\n"


# -- re-runs, restarts, gaps ---------------------------------------------------------------


def test_rerun_of_a_cell_id_resets_it_and_ignores_the_old_msg_id(nb: ShadowNotebook) -> None:
    old = run_cell(nb, "m1", stream("old\n"), display("d1", "d"), cell_id="A")
    run_cell(nb, "m0", cell_id="B")
    new = nb.add_request("m2", "again", "A")
    assert new is not old and new.outputs == [] and new.status == "queued"
    assert nb.get("A") is new and nb.by_msg_id("m1") is None
    assert [c.id for c in nb.cells()] == ["A", "B"]  # first-execution order
    # late messages of the old execution must not leak into the new one
    assert send(nb, "m1", stream("late\n"), ("execute_input", {"code": "x"}), clear()) == []
    assert nb.handle_reply("m1", {"status": "error"}) == []
    assert nb.get("m1") is None and new.outputs == [] and new.status == "queued"
    assert send(nb, "x", update("d2", "d")) == []  # the old outputs left the id map


def test_restart_marks_old_cells_stale_and_aborts_unfinished_ones(nb: ShadowNotebook) -> None:
    done = run_cell(nb, "m1", display("v1", "d"), cell_id="A")
    running = nb.add_request("m2", "sleep", "B", now=1.0)
    send(nb, "m2", ("status", BUSY), stream("partial\n"))
    queued = nb.add_request("m3", "x", "C")
    changed = nb.mark_restart(now=9.0)
    assert changed == [done, running, queued]
    assert nb.run == 1
    assert [(c.status, c.stale, c.run) for c in changed] == [
        ("ok", True, 0), ("aborted", True, 0), ("aborted", True, 0)
    ]  # fmt: skip
    assert running.ended == queued.ended == 9.0 and done.ended == 103.0
    assert texts(running) == ["partial\n"]
    # late messages of the dead kernel change nothing
    assert send(nb, "m2", stream("late\n"), ("status", IDLE)) == []
    assert nb.handle_reply("m2", {"status": "ok"}) == []
    assert send(nb, "m2", ("execute_input", {"code": "x"})) == []
    fresh = run_cell(nb, "m4", display("new", "d"), cell_id="D")
    assert (fresh.run, fresh.stale) == (1, False)
    assert texts(done) == ["v1"]  # display ids of the old run are forgotten
    rerun = run_cell(nb, "m5", cell_id="A")
    assert (rerun.run, rerun.stale) == (1, False) and nb.get("A") is rerun
    assert nb.mark_restart() == [rerun, fresh]


def test_mark_gap(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "x")
    nb.handle_reply("m1", {"status": "ok", "execution_count": 1})
    before = nb.seq
    assert nb.mark_gap("m1") == [cell]
    assert cell.gap and cell.seq == nb.seq == before + 1
    assert nb.mark_gap("unknown") == []


# -- seq, since, eviction -----------------------------------------------------------------------


def test_every_change_bumps_seq_and_since_filters(nb: ShadowNotebook) -> None:
    a = nb.add_request("m1", "a", "A")
    b = nb.add_request("m2", "b", "B")
    assert (a.seq, b.seq, nb.seq) == (1, 2, 2)
    mark = nb.seq
    assert nb.cells(since=mark) == []
    send(nb, "m1", ("status", BUSY))
    assert nb.cells(since=mark) == [a]
    send(nb, "m2", ("status", BUSY), stream("x"))
    assert nb.cells(since=mark) == [a, b]
    assert nb.cells(since=a.seq) == [b]
    assert [c["id"] for c in nb.to_dict(since=a.seq)["cells"]] == ["B"]
    assert nb.to_dict(since=nb.seq) == {"seq": nb.seq, "run": 0, "cells": []}


def test_max_cells_evicts_the_oldest_final_cells(make_nb: Callable[..., ShadowNotebook]) -> None:
    nb = make_nb(max_cells=3)
    running = nb.add_request("m0", "long", "R")
    send(nb, "m0", ("status", BUSY))
    for n in range(1, 6):
        run_cell(nb, f"m{n}", cell_id=f"C{n}")
    assert [c.id for c in nb.cells()] == ["R", "C4", "C5"]
    assert nb.get("C1") is None and nb.get("R") is running
    assert nb.take_evicted() == ["C1", "C2", "C3"]  # for the store to forget
    assert nb.take_evicted() == []
    assert send(nb, "m1", stream("late\n"), ("execute_input", {"code": "x"})) == []
    for n in range(6, 9):
        nb.add_request(f"m{n}", "queued", f"Q{n}")
    assert [c.id for c in nb.cells()] == ["R", "Q6", "Q7", "Q8"]  # never evicts unfinished
    rerun = nb.add_request("m9", "again", "R")
    assert [c.id for c in nb.cells()] == ["R", "Q6", "Q7", "Q8"] and nb.get("R") is rerun
    send(nb, "m9", ("status", BUSY), ("status", IDLE))  # final now, and the oldest
    assert [c.id for c in nb.cells()] == ["Q6", "Q7", "Q8"]
    assert nb.take_evicted() == ["C4", "C5", "R"]  # for the queued cells, then the re-run R


# -- memory bound ---------------------------------------------------------------------------------

DROP = re.compile(
    r"\[jupyter-sidecar: ([\d,]+) characters \(([\d,]+) lines\) of output dropped\]\n"
)


def test_million_lines_keep_head_and_tail_within_budget(nb: ShadowNotebook) -> None:
    cell = nb.add_request("m1", "for i in range(1_000_000): print(i)")
    send(nb, "m1", ("status", BUSY))
    total = 0
    tracemalloc.start()
    try:
        for start in range(0, 1_000_000, 50):
            chunk = "".join(f"line {n}\n" for n in range(start, start + 50))
            total += len(chunk)
            nb.handle_iopub("stream", "m1", {"name": "stdout", "text": chunk})
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < 1.5 * nb.max_output_bytes  # the model's memory, before rendering outputs
    assert cell.output_size <= nb.max_output_bytes
    send(nb, "m1", ("status", IDLE))
    [output] = cell.outputs
    text = output["text"]
    assert cell.truncated
    assert len(text) <= nb.max_output_bytes
    match = DROP.search(text)
    assert match is not None
    head, tail = text[: match.start()], text[match.end() :]
    chars, lines = (int(g.replace(",", "")) for g in match.groups())
    assert head.startswith("line 0\nline 1\n") and head.endswith("\n")
    assert tail.startswith("line ") and tail.endswith("line 999998\nline 999999\n")
    assert chars == total - len(head) - len(tail)
    assert lines == 1_000_000 - head.count("\n") - tail.count("\n")
    last_head = int(head.rstrip("\n").rsplit("\n", 1)[1].split()[1])
    first_tail = int(tail.split("\n", 1)[0].split()[1])
    assert first_tail - last_head - 1 == lines
    assert len(head) > nb.max_output_bytes // 3 and len(tail) > nb.max_output_bytes // 3


def test_many_outputs_keep_head_marker_tail(make_nb: Callable[..., ShadowNotebook]) -> None:
    nb = make_nb(max_output_bytes=20_000)
    cell = nb.add_request("m1", "x")
    for n in range(20_000):
        send(nb, "m1", display(f"plot {n}"), stream(f"step {n}\n", "stderr"))
    outputs = cell.outputs
    assert cell.truncated and len(outputs) < 400
    markers = [o for o in outputs if "jupyter-sidecar" in o.get("text", "")]
    assert len(markers) == 1 and markers[0]["name"] == "stderr"
    match = re.match(
        r"\[jupyter-sidecar: ([\d,]+) outputs \(([\d,]+) bytes\) dropped\]\n", markers[0]["text"]
    )
    assert match is not None
    assert int(match.group(1).replace(",", "")) == 40_000 - (len(outputs) - 1)
    assert texts(cell)[:2] == ["plot 0", "step 0\n"]
    assert texts(cell)[-2:] == ["plot 19999", "step 19999\n"]
    assert send(nb, "m1", clear()) == [cell]
    assert cell.outputs == [] and not cell.truncated


def test_evicted_and_dropped_outputs_leave_the_display_map(
    make_nb: Callable[..., ShadowNotebook],
) -> None:
    nb = make_nb(max_output_bytes=2_000, max_cells=1)
    cell = nb.add_request("m1", "x")
    for n in range(100):
        send(nb, "m1", display(f"v{n}", f"id{n}"))
    assert send(nb, "m1", update("new", "id50")) == []  # dropped from the middle
    assert send(nb, "m1", update("new", "id99")) == [cell]
    send(nb, "m1", ("status", IDLE))
    run_cell(nb, "m2")
    assert nb.cells() == [nb.get("m2")]
    assert send(nb, None, update("newer", "id99")) == []  # evicted with its cell


def test_each_execution_is_taken_as_finished_once() -> None:
    """The reply and the idle both end a run: it is reported finished once, and a restart
    reports the runs it aborted."""
    nb = ShadowNotebook()
    nb.add_request("m1", "1/0", "a")
    nb.handle_iopub("status", "m1", {"execution_state": "busy"}, now=1.0)
    nb.handle_iopub("error", "m1", {"ename": "ZeroDivisionError", "evalue": "x", "traceback": []})
    nb.handle_reply("m1", {"status": "error", "execution_count": 1}, now=2.0)
    nb.handle_iopub("status", "m1", {"execution_state": "idle"}, now=2.5)
    finished = nb.take_finished()
    assert [(cell.id, cell.ended, cell.ename) for cell in finished] == [
        ("a", 2.0, "ZeroDivisionError")
    ]
    nb.add_request("m2", "x", "b")
    nb.handle_iopub("status", "m2", {"execution_state": "idle"}, now=3.0)
    nb.add_request("m3", "y", "c")
    assert [cell.id for cell in nb.take_finished()] == ["b"]
    nb.mark_restart(now=4.0)
    assert [(cell.id, cell.status) for cell in nb.take_finished()] == [("c", "aborted")]
    assert nb.take_finished() == []
    assert nb.get("b") is not None and nb.get("b").ename is None  # type: ignore[union-attr]
    assert nb.get("a").to_dict()["unwatched"] is False  # type: ignore[union-attr]
