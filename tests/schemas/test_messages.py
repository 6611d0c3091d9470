"""Message models: every type from realistic dicts, fallbacks, exact round trips, and
every message a real ipykernel exchanges on all four channels."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import nbformat
import pytest
from jupyter_client.jsonutil import json_default
from jupyter_client.manager import KernelManager
from pydantic import ValidationError

from jupyter_sidecar_ext.schemas import (
    MESSAGE_TYPES,
    UnknownMessage,
    message_adapter,
    notebook_from_dict,
    output_from_iopub,
    parse_message,
    parse_message_lenient,
)
from jupyter_sidecar_ext.schemas import messages as m

SESSION = "9f1c6c1e-5a0b-4a4e-9d57-1b0c8d1f2e3a"
PARENT_HEADER = {
    "msg_id": "3d2f4b6a-0c1e-4f5a-8b7c-9d0e1f2a3b4c",
    "msg_type": "execute_request",
    "session": "7a8b9c0d-1e2f-4a5b-8c6d-7e8f9a0b1c2d",
    "username": "jovyan",
    "date": "2024-05-01T10:00:00.000000Z",
    "version": "5.4",
}
TRACEBACK = ["\x1b[31mZeroDivisionError\x1b[39m Traceback", "\x1b[31mZeroDivisionError\x1b[39m: x"]
ERROR = {"ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": TRACEBACK}
BUNDLE = {"text/plain": "<Figure>", "image/png": "iVBORw0KGgo=", "application/json": {"a": [1]}}

# (case id, channel, msg_type, content, metadata)
SAMPLES: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    # shell
    (
        "execute_request",
        "shell",
        "execute_request",
        {
            "code": "print('hi')",
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": True,
            "stop_on_error": True,
        },
        {"cellId": "a1b2c3", "deletedCells": [], "recordTiming": False},
    ),
    ("execute_request_minimal", "shell", "execute_request", {"code": "1"}, {}),
    (
        "execute_reply",
        "shell",
        "execute_reply",
        {"status": "ok", "execution_count": 3, "payload": [], "user_expressions": {}},
        {"started": "2024-05-01T10:00:00.1Z", "dependencies_met": True, "status": "ok"},
    ),
    (
        "execute_reply_error",
        "shell",
        "execute_reply",
        {"status": "error", "execution_count": 4, **ERROR, "engine_info": {"engine_id": -1}},
        {},
    ),
    ("execute_reply_aborted", "shell", "execute_reply", {"status": "aborted"}, {}),
    (
        "inspect_request",
        "shell",
        "inspect_request",
        {"code": "len", "cursor_pos": 3, "detail_level": 0},
        {},
    ),
    (
        "inspect_reply",
        "shell",
        "inspect_reply",
        {
            "status": "ok",
            "found": True,
            "data": {"text/plain": "Signature: len(obj)"},
            "metadata": {},
        },
        {},
    ),
    ("complete_request", "shell", "complete_request", {"code": "imp", "cursor_pos": 3}, {}),
    (
        "complete_reply",
        "shell",
        "complete_reply",
        {
            "status": "ok",
            "matches": ["import"],
            "cursor_start": 0,
            "cursor_end": 3,
            "metadata": {"_jupyter_types_experimental": [{"start": 0, "end": 3, "text": "import"}]},
        },
        {},
    ),
    (
        "history_request",
        "shell",
        "history_request",
        {"output": False, "raw": True, "hist_access_type": "tail", "n": 10},
        {},
    ),
    (
        "history_reply",
        "shell",
        "history_reply",
        {"status": "ok", "history": [[1, 1, "x = 1"], [1, 2, ["x", "1"]]]},
        {},
    ),
    ("is_complete_request", "shell", "is_complete_request", {"code": "for i in x:"}, {}),
    (
        "is_complete_reply",
        "shell",
        "is_complete_reply",
        {"status": "incomplete", "indent": "    "},
        {},
    ),
    ("connect_request", "shell", "connect_request", {}, {}),
    (
        "connect_reply",
        "shell",
        "connect_reply",
        {
            "status": "ok",
            "shell_port": 1,
            "iopub_port": 2,
            "stdin_port": 3,
            "hb_port": 4,
            "control_port": 5,
        },
        {},
    ),
    ("comm_info_request", "shell", "comm_info_request", {"target_name": "jupyter.widget"}, {}),
    (
        "comm_info_reply",
        "shell",
        "comm_info_reply",
        {"status": "ok", "comms": {"c0ffee": {"target_name": "jupyter.widget"}}},
        {},
    ),
    ("kernel_info_request", "shell", "kernel_info_request", {}, {}),
    (
        "kernel_info_reply",
        "shell",
        "kernel_info_reply",
        {
            "status": "ok",
            "protocol_version": "5.3",
            "implementation": "ipython",
            "implementation_version": "9.0.0",
            "language_info": {
                "name": "python",
                "version": "3.11.7",
                "mimetype": "text/x-python",
                "codemirror_mode": {"name": "ipython", "version": 3},
                "pygments_lexer": "ipython3",
                "nbconvert_exporter": "python",
                "file_extension": ".py",
            },
            "banner": "Python 3.11.7",
            "help_links": [{"text": "Python Reference", "url": "https://docs.python.org/3.11"}],
            "supported_features": ["kernel subshells", "debugger"],
        },
        {},
    ),
    (
        "comm_open_shell",
        "shell",
        "comm_open",
        {"comm_id": "c1", "target_name": "echo", "data": {}},
        {},
    ),
    # control
    ("shutdown_request", "control", "shutdown_request", {"restart": False}, {}),
    ("shutdown_reply", "control", "shutdown_reply", {"status": "ok", "restart": False}, {}),
    ("interrupt_request", "control", "interrupt_request", {}, {}),
    ("interrupt_reply", "control", "interrupt_reply", {"status": "ok"}, {}),
    (
        "debug_request",
        "control",
        "debug_request",
        {"seq": 7, "type": "request", "command": "inspectVariables", "arguments": {}},
        {},
    ),
    (
        "debug_reply",
        "control",
        "debug_reply",
        {
            "seq": 8,
            "type": "response",
            "request_seq": 7,
            "success": True,
            "command": "inspectVariables",
            "body": {"variables": [{"name": "x", "value": "1", "type": "int"}]},
        },
        {},
    ),
    ("debug_reply_empty", "control", "debug_reply", {}, {}),
    ("create_subshell_request", "control", "create_subshell_request", {}, {}),
    (
        "create_subshell_reply",
        "control",
        "create_subshell_reply",
        {"status": "ok", "subshell_id": "5b7e1f0a"},
        {},
    ),
    (
        "delete_subshell_request",
        "control",
        "delete_subshell_request",
        {"subshell_id": "5b7e1f0a"},
        {},
    ),
    ("delete_subshell_reply", "control", "delete_subshell_reply", {"status": "ok"}, {}),
    (
        "delete_subshell_reply_error",
        "control",
        "delete_subshell_reply",
        {"status": "error", "evalue": "Unknown subshell_id 'nope'"},
        {},
    ),
    ("list_subshell_request", "control", "list_subshell_request", {}, {}),
    (
        "list_subshell_reply",
        "control",
        "list_subshell_reply",
        {"status": "ok", "subshell_id": ["5b7e1f0a"]},
        {},
    ),
    # iopub
    ("stream", "iopub", "stream", {"name": "stdout", "text": "hi\n"}, {}),
    (
        "display_data",
        "iopub",
        "display_data",
        {
            "data": BUNDLE,
            "metadata": {"image/png": {"width": 640}},
            "transient": {"display_id": "d1"},
        },
        {},
    ),
    (
        "update_display_data",
        "iopub",
        "update_display_data",
        {"data": {"text/plain": "2"}, "metadata": {}, "transient": {"display_id": "d1"}},
        {},
    ),
    ("execute_input", "iopub", "execute_input", {"code": "1+1", "execution_count": 5}, {}),
    (
        "execute_result",
        "iopub",
        "execute_result",
        {"data": {"text/plain": "2"}, "metadata": {}, "execution_count": 5},
        {},
    ),
    ("error", "iopub", "error", ERROR, {}),
    ("status_busy", "iopub", "status", {"execution_state": "busy"}, {}),
    ("status_restarting", "iopub", "status", {"execution_state": "restarting"}, {}),
    ("clear_output", "iopub", "clear_output", {"wait": True}, {}),
    (
        "debug_event",
        "iopub",
        "debug_event",
        {
            "seq": 3,
            "type": "event",
            "event": "stopped",
            "body": {"reason": "breakpoint", "threadId": 1},
        },
        {},
    ),
    ("iopub_welcome", "iopub", "iopub_welcome", {"subscription": ""}, {}),
    (
        "comm_open",
        "iopub",
        "comm_open",
        {
            "comm_id": "c2",
            "target_name": "jupyter.widget",
            "data": {"state": {}},
            "target_module": None,
        },
        {"version": "2.1.0"},
    ),
    ("comm_msg", "iopub", "comm_msg", {"comm_id": "c2", "data": {"method": "update"}}, {}),
    ("comm_close", "iopub", "comm_close", {"comm_id": "c2", "data": {}}, {}),
    ("shutdown_reply_iopub", "iopub", "shutdown_reply", {"status": "ok", "restart": True}, {}),
    # stdin
    ("input_request", "stdin", "input_request", {"prompt": "name? ", "password": False}, {}),
    ("input_reply", "stdin", "input_reply", {"value": "sidecar", "status": "ok"}, {}),
]


def make_msg(
    msg_type: str,
    content: dict[str, Any],
    *,
    channel: str | None = None,
    metadata: dict[str, Any] | None = None,
    parent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A message dict as the JSON websocket protocol carries it."""
    msg: dict[str, Any] = {
        "header": {
            "msg_id": f"{msg_type}-0001",
            "msg_type": msg_type,
            "session": SESSION,
            "username": "jovyan",
            "date": "2024-05-01T10:00:00.123456Z",
            "version": "5.4",
        },
        "parent_header": {} if parent is None else parent,
        "metadata": metadata or {},
        "content": content,
        "buffers": [],
    }
    if channel is not None:
        msg["channel"] = channel
    return msg


def sample_msg(case: tuple[str, str, str, dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    _, channel, msg_type, content, metadata = case
    parent = None if msg_type.endswith("_request") else PARENT_HEADER
    return make_msg(
        msg_type, copy.deepcopy(content), channel=channel, metadata=metadata, parent=parent
    )


@pytest.mark.parametrize("case", SAMPLES, ids=[case[0] for case in SAMPLES])
def test_sample_parses_to_its_typed_model_and_round_trips(case: Any) -> None:
    msg = sample_msg(case)
    parsed = parse_message(msg)
    assert type(parsed) is MESSAGE_TYPES[msg["header"]["msg_type"]]
    assert parsed.msg_type == msg["header"]["msg_type"]
    assert parsed.to_dict() == msg
    assert parse_message_lenient(msg).to_dict() == msg


def test_samples_cover_every_known_msg_type() -> None:
    assert {case[2] for case in SAMPLES} == set(MESSAGE_TYPES)


def test_protocol_messages_are_all_known() -> None:
    expected = {
        *(f"{name}_{kind}" for kind in ("request", "reply") for name in (
            "execute", "inspect", "complete", "history", "is_complete", "comm_info", "kernel_info",
            "shutdown", "interrupt", "debug", "create_subshell", "delete_subshell", "list_subshell",
        )),
        "stream", "display_data", "update_display_data", "execute_input", "execute_result",
        "error", "status", "clear_output", "debug_event", "comm_open", "comm_msg", "comm_close",
        "input_request", "input_reply",
    }  # fmt: skip
    assert expected <= set(MESSAGE_TYPES)


def test_typed_access() -> None:
    display = parse_message(sample_msg(SAMPLES[[c[0] for c in SAMPLES].index("display_data")]))
    assert isinstance(display, m.DisplayData)
    assert display.content.display_id == "d1"
    assert display.parent_msg_id == PARENT_HEADER["msg_id"]
    info = parse_message(sample_msg(SAMPLES[[c[0] for c in SAMPLES].index("kernel_info_reply")]))
    assert isinstance(info, m.KernelInfoReply)
    assert info.content.language_info is not None
    assert info.content.language_info.name == "python"
    assert "kernel subshells" in info.content.supported_features
    request = parse_message(make_msg("execute_request", {"code": "1"}))
    assert isinstance(request, m.ExecuteRequest)
    assert request.content.stop_on_error is True  # ipykernel's default, not dumped
    assert request.parent_msg_id is None
    assert request.to_dict()["parent_header"] == {}
    assert "stop_on_error" not in request.to_dict()["content"]


def test_extra_fields_survive_everywhere() -> None:
    msg = make_msg(
        "kernel_info_reply",
        {
            "status": "ok",
            "language_info": {"name": "python", "x-lang": {"deep": [1, 2]}},
            "help_links": [{"text": "t", "url": "u", "icon": "i"}],
            "future_field": {"a": 1},
        },
        channel="shell",
        metadata={"custom": True},
        parent=dict(PARENT_HEADER, subshell_id="s1", x_parent=1),
    )
    msg["header"]["x_trace_id"] = "abc"
    msg["header"]["subshell_id"] = None
    msg["msg_id"] = msg["header"]["msg_id"]  # jupyter_client.Session copies these up
    msg["msg_type"] = msg["header"]["msg_type"]
    msg["x_top"] = [1, {"b": 2}]
    parsed = parse_message(msg)
    assert isinstance(parsed, m.KernelInfoReply)
    assert parsed.to_dict() == msg
    assert parsed.model_extra == {
        "msg_id": msg["msg_id"],
        "msg_type": "kernel_info_reply",
        "x_top": [1, {"b": 2}],
    }
    assert parsed.content.model_extra == {"future_field": {"a": 1}}
    assert parsed.parent_header.subshell_id == "s1"


def test_unknown_msg_type_falls_back_keeping_everything() -> None:
    msg = make_msg(
        "usage_reply", {"kernel_cpu": 0.5, "host_virtual_memory": {"total": 1}}, channel="control"
    )
    msg["header"]["extra"] = 1
    msg["x"] = "y"
    for parse in (parse_message, parse_message_lenient):
        parsed = parse(msg)
        assert type(parsed) is UnknownMessage
        assert parsed.msg_type == "usage_reply"
        assert parsed.to_dict() == msg


def test_unknown_msg_type_needs_no_standard_fields() -> None:
    msg = {"header": {"msg_type": "custom"}, "content": {"x": 1}, "weird": True}
    parsed = parse_message(msg)
    assert isinstance(parsed, UnknownMessage)
    assert parsed.msg_id is None
    assert parsed.to_dict() == msg


def test_malformed_known_message_raises_or_falls_back_when_lenient() -> None:
    msg = make_msg("execute_reply", {"status": "ok", "execution_count": "3"})  # no coercion
    with pytest.raises(ValidationError):
        parse_message(msg)
    fallback = parse_message_lenient(msg)
    assert isinstance(fallback, UnknownMessage)
    assert fallback.msg_type == "execute_reply"
    assert fallback.to_dict() == msg


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d["content"].pop("code"),
        lambda d: d["header"].pop("session"),
        lambda d: d.update(channel="websocket"),
        lambda d: d["content"].update(silent="yes"),
    ],
    ids=["missing-content-field", "missing-header-field", "bad-channel", "wrong-type"],
)
def test_malformed_variants(mutate: Any) -> None:
    msg = make_msg("execute_request", {"code": "1", "silent": False})
    mutate(msg)
    with pytest.raises(ValidationError):
        parse_message(msg)
    assert parse_message_lenient(msg).to_dict() == msg


def test_not_message_shaped_raises_even_when_lenient() -> None:
    for bad in ({"header": "execute_request", "content": {}}, {"content": {}}):
        with pytest.raises(ValidationError):
            parse_message(bad)
        with pytest.raises(ValidationError):
            parse_message_lenient(bad)


def test_model_rejects_other_msg_type() -> None:
    with pytest.raises(ValidationError):
        m.ExecuteRequest.model_validate(make_msg("inspect_request", {"code": "1", "cursor_pos": 0}))


def test_dates_are_kept_as_given() -> None:
    as_str = parse_message(make_msg("status", {"execution_state": "idle"}))
    assert as_str.header.date == "2024-05-01T10:00:00.123456Z"
    when = datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=timezone.utc)
    msg = make_msg("status", {"execution_state": "idle"}, parent=dict(PARENT_HEADER, date=when))
    msg["header"]["date"] = when
    parsed = parse_message(msg)
    assert parsed.header.date is when
    assert parsed.parent_header.date is when
    assert parsed.to_dict() == msg


def test_buffers_are_kept_and_base64_in_json() -> None:
    view = memoryview(b"\x00\x01\x02")
    msg = make_msg("comm_msg", {"comm_id": "c", "data": {"buffer_paths": [["x"]]}})
    msg["buffers"] = [b"ab", bytearray(b"cd"), view]
    parsed = parse_message(msg)
    assert isinstance(parsed, m.CommMsg)
    assert parsed.buffers[2] is view
    assert parsed.to_dict() == msg
    assert parsed.to_dict(mode="json")["buffers"] == ["YWI=", "Y2Q=", "AAEC"]


@pytest.mark.parametrize("case", SAMPLES, ids=[case[0] for case in SAMPLES])
def test_json_round_trip(case: Any) -> None:
    text = json.dumps(sample_msg(case))
    parsed = message_adapter.validate_json(text)
    assert type(parsed) is MESSAGE_TYPES[case[2]]
    assert parsed.to_dict(mode="json") == json.loads(text)


# --- a real ipykernel ----------------------------------------------------------------

TIMEOUT = 30.0

KERNEL_CODE = {
    "stream": "import sys\nprint('out')\nprint('err', file=sys.stderr)",
    "display": "h = display('first', display_id=True)\nh.update('second')",
    "result": "1 + 1",
    "clear": (
        "from IPython.display import clear_output\nprint('a')\nclear_output(wait=True)\nprint('b')"
    ),
    "error": "1 / 0",
    "input": "name = input('name? ')\nprint('hello', name)",
    "comm": (
        "from comm import create_comm\n"
        "c = create_comm(target_name='sidecar.test', data={'x': 1})\n"
        "c.send({'y': 2}, buffers=[b'\\x00\\x01'])\n"
        "c.close()\n"
        "from comm import get_comm_manager\n"
        "def _echo(comm, msg):\n"
        "    comm.on_msg(lambda m: comm.send(m['content']['data']))\n"
        "get_comm_manager().register_target('sidecar.echo', _echo)"
    ),
}


class Recorder:
    """Sends requests through a blocking client and records every message, all channels."""

    def __init__(self, kc: Any) -> None:
        self.kc = kc
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def send(
        self, channel: str, msg_type: str, content: dict[str, Any], **header: Any
    ) -> dict[str, Any]:
        msg = self.kc.session.msg(msg_type, content)
        msg["header"].update(header)
        self.messages.append((channel, copy.deepcopy(msg)))  # send() adds a zmq "tracker"
        getattr(self.kc, f"{channel}_channel").send(msg)
        return msg

    def _until(self, channel: str, done: Any) -> dict[str, Any]:
        get = getattr(self.kc, f"get_{channel}_msg")
        deadline = time.monotonic() + TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching {channel} message within {TIMEOUT}s")
            msg = get(timeout=remaining)
            self.messages.append((channel, msg))
            if done(msg):
                return msg

    def reply(self, channel: str, request: dict[str, Any]) -> dict[str, Any]:
        msg_id = request["header"]["msg_id"]
        return self._until(channel, lambda r: r["parent_header"].get("msg_id") == msg_id)

    def idle(self, request: dict[str, Any]) -> None:
        msg_id = request["header"]["msg_id"]
        self._until(
            "iopub",
            lambda r: (
                r["msg_type"] == "status"
                and r["content"]["execution_state"] == "idle"
                and r["parent_header"].get("msg_id") == msg_id
            ),
        )

    def request(
        self, channel: str, msg_type: str, content: dict[str, Any], **header: Any
    ) -> dict[str, Any]:
        request = self.send(channel, msg_type, content, **header)
        reply = self.reply(channel, request)
        self.idle(request)
        return reply

    def execute(self, code: str, **header: Any) -> dict[str, Any]:
        content = {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
        }
        return self.request("shell", "execute_request", content, **header)


def _record_session(rec: Recorder) -> dict[str, Any]:
    """Drive the kernel through every message type it can produce; return facts to check."""
    facts: dict[str, Any] = {}
    info = rec.request("shell", "kernel_info_request", {})
    features = info["content"].get("supported_features", [])
    facts["features"] = features
    for key in ("stream", "display", "result", "clear", "comm"):
        assert rec.execute(KERNEL_CODE[key])["content"]["status"] == "ok", key
    assert rec.execute(KERNEL_CODE["error"])["content"]["status"] == "error"
    # stdin: input_request from the kernel, input_reply from us
    request = rec.send(
        "shell", "execute_request", {"code": KERNEL_CODE["input"], "allow_stdin": True}
    )
    prompt = rec._until("stdin", lambda r: r["msg_type"] == "input_request")
    rec.send("stdin", "input_reply", {"value": "sidecar"})
    assert prompt["content"]["prompt"] == "name? "
    assert rec.reply("shell", request)["content"]["status"] == "ok"
    rec.idle(request)
    # comms from the client side, to the echo target registered above
    comm = {"comm_id": "0f0f0f0f", "target_name": "sidecar.echo", "data": {}}
    for msg_type, content in (
        ("comm_open", comm),
        ("comm_msg", {"comm_id": comm["comm_id"], "data": {"ping": 1}}),
        ("comm_close", {"comm_id": comm["comm_id"], "data": {}}),
    ):
        rec.idle(rec.send("shell", msg_type, content))
    rec.request("shell", "comm_info_request", {})
    rec.request("shell", "complete_request", {"code": "impo", "cursor_pos": 4})
    rec.request("shell", "inspect_request", {"code": "print", "cursor_pos": 5, "detail_level": 0})
    rec.request("shell", "is_complete_request", {"code": "for i in range(3):"})
    rec.request("shell", "is_complete_request", {"code": "x = 1"})
    for output in (False, True):
        history = {"output": output, "raw": True, "hist_access_type": "tail", "n": 5}
        rec.request("shell", "history_request", history)
    rec.request("shell", "connect_request", {})
    rec.request("control", "interrupt_request", {})
    if "debugger" in features:
        debug = {"seq": 1, "type": "request", "command": "inspectVariables", "arguments": {}}
        facts["debug"] = rec.request("control", "debug_request", debug)
    if "kernel subshells" in features:
        created = rec.request("control", "create_subshell_request", {})
        subshell_id = created["content"]["subshell_id"]
        rec.execute("print('in a subshell')", subshell_id=subshell_id)
        facts["listed"] = rec.request("control", "list_subshell_request", {})
        rec.request("control", "delete_subshell_request", {"subshell_id": subshell_id})
        facts["subshell_id"] = subshell_id
    rec.request("control", "shutdown_request", {"restart": False})
    return facts


@pytest.fixture(scope="module")
def kernel_session() -> Iterator[tuple[list[tuple[str, dict[str, Any]]], dict[str, Any]]]:
    km = KernelManager(kernel_name="python3")
    km.start_kernel()
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        rec = Recorder(kc)
        facts = _record_session(rec)
        yield rec.messages, facts
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def _normalised(d: dict[str, Any]) -> Any:
    return json.loads(json.dumps(d, default=json_default))


def test_kernel_messages_all_parse_to_typed_models(kernel_session: Any) -> None:
    messages, _ = kernel_session
    untyped = [
        (channel, msg["header"]["msg_type"])
        for channel, msg in messages
        if isinstance(parse_message(msg), UnknownMessage)
    ]
    assert untyped == []


def test_kernel_messages_round_trip_unchanged(kernel_session: Any) -> None:
    messages, _ = kernel_session
    for channel, msg in messages:
        parsed = parse_message(msg)
        assert parsed.to_dict() == msg, (channel, msg)
        assert _normalised(parsed.to_dict()) == _normalised(msg)
        # As the server's JSON websocket protocol carries it: dates as strings, a channel
        # (buffers travel in binary frames, not in the JSON).
        wire = dict(_normalised({**msg, "buffers": []}), channel=channel)
        assert parse_message(wire).to_dict(mode="json") == wire


def test_kernel_session_covered_every_expected_type(kernel_session: Any) -> None:
    messages, facts = kernel_session
    seen = {msg["header"]["msg_type"] for _, msg in messages}
    expected = {
        "kernel_info_request", "kernel_info_reply", "execute_request", "execute_reply",
        "execute_input", "stream", "display_data", "update_display_data", "execute_result",
        "error", "clear_output", "status", "input_request", "input_reply", "comm_open",
        "comm_msg", "comm_close", "comm_info_request", "comm_info_reply", "complete_request",
        "complete_reply", "inspect_request", "inspect_reply", "is_complete_request",
        "is_complete_reply", "history_request", "history_reply", "connect_request",
        "connect_reply", "interrupt_request", "interrupt_reply", "shutdown_request",
        "shutdown_reply",
    }  # fmt: skip
    if "debugger" in facts["features"]:
        expected |= {"debug_request", "debug_reply"}
    if "kernel subshells" in facts["features"]:
        expected |= {
            f"{verb}_subshell_{kind}"
            for verb in ("create", "list", "delete")
            for kind in ("request", "reply")
        }
    assert expected - seen == set()


def test_kernel_typed_details(kernel_session: Any) -> None:
    messages, facts = kernel_session
    parsed = [parse_message(msg) for _, msg in messages]
    displays = [p for p in parsed if isinstance(p, m.DisplayData)]
    updates = [p for p in parsed if isinstance(p, m.UpdateDisplayData)]
    assert displays and updates
    assert updates[0].content.display_id == displays[0].content.display_id is not None
    comm_msgs = [p for p in parsed if isinstance(p, m.CommMsg) and p.buffers]
    assert bytes(comm_msgs[0].buffers[0]) == b"\x00\x01"
    is_complete = [p for p in parsed if isinstance(p, m.IsCompleteReply)]
    assert {p.content.status for p in is_complete} == {"incomplete", "complete"}
    if "debugger" in facts["features"]:
        debug = parse_message(facts["debug"])
        assert isinstance(debug, m.DebugReply)
        assert debug.content.success is True
    if "kernel subshells" in facts["features"]:
        listed = parse_message(facts["listed"])
        assert isinstance(listed, m.ListSubshellReply)
        assert listed.content.subshell_id == [facts["subshell_id"]]
        in_subshell = [p for p in parsed if p.header.subshell_id == facts["subshell_id"]]
        assert any(isinstance(p, m.ExecuteRequest) for p in in_subshell)


def test_kernel_outputs_match_nbformat(kernel_session: Any) -> None:
    messages, _ = kernel_session
    outputs = []
    for _, msg in messages:
        if msg["msg_type"] in ("stream", "display_data", "execute_result", "error"):
            output = output_from_iopub(msg["msg_type"], msg["content"])
            assert output is not None
            assert output.to_dict() == nbformat.v4.output_from_msg(msg)
            typed = parse_message(msg)
            assert output_from_iopub(typed.msg_type or "", typed.content) == output
            outputs.append(output.to_dict())
    assert {o["output_type"] for o in outputs} == {
        "stream",
        "display_data",
        "execute_result",
        "error",
    }
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=outputs)])
    nbformat.validate(notebook_from_dict(nb).to_dict())
