"""Property-based hostile websocket frames, both subprotocols.

Unit level: the frame splitters and the execute_request tap never raise, whatever the
bytes, and never allocate more than a small multiple of the frame (a forged part count
must not make them build a huge offset list); on well-formed frames they agree with the
server's own parsers.

Over a real websocket to a real kernel: every generated frame (forged v1 offset tables,
truncated or overlong frames, invalid or mistyped JSON parts, legacy JSON with wrong types,
legacy binary frames with forged offsets, valid requests) is either dropped with a log line
or forwarded; after each one the same connection still answers a request, a second kernel
keeps being recorded all along (every line exactly once), and the attacked kernel runs a
valid cell at the end. A v1 frame whose offset table is sound is forwarded as stock
jupyter_server forwards it, JSON parts undecoded (the client->kernel path stays lazy): the
kernel validates what it receives and logs what it cannot use, and this checks that it
survives all of it.

Generated messages never carry code to run: execute_requests only use a few fixed
sources (or non-string garbage), and message types that stop or reconfigure a kernel
(shutdown, interrupt, debug, comms, stdin replies) are never generated. As in
test_fuzz_rest.py, each hypothesis run lives in one sync test that drives the server's loop
per example (pytest-jupyter's fixtures are sync), under the suite's fuzz profile
(tests/conftest.py: derandomized, no example database; `SIDECAR_FUZZ_EXPLORE=1` draws fresh,
more numerous examples).
"""

from __future__ import annotations

import asyncio
import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st
from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_binary_message,
    serialize_msg_to_ws_v1,
)

from jupyter_sidecar_ext.protocol.frames import (
    MAX_V1_PARTS,
    execute_request_from_ws,
    is_well_formed,
    split_legacy_binary_frame,
    split_v1_frame,
)
from jupyter_sidecar_ext.pytest_plugin import KernelWebsocketClient


def fuzz_settings(share: float) -> settings:
    """The suite's fuzz profile (tests/conftest.py) with `share` times its examples."""
    profile = settings.get_profile("sidecar-fuzz")
    return settings(profile, max_examples=round(profile.max_examples * share))


DROPPED = "jupyter_sidecar_ext: dropped a malformed websocket"
# Never generated: they stop, interrupt or reconfigure the kernel, or run code.
FORBIDDEN = ("shutdown_request", "interrupt_request", "debug_request", "comm_", "input_reply")
SAFE_CODE = ("1", "pass", "print('fuzz')", "1/0", "x = 2")
session = Session(key=b"", username="fuzz")

# -- message parts ------------------------------------------------------------------------------

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
NOT_STRINGS = st.none() | st.integers() | st.lists(st.integers(), max_size=3)
MSG_TYPES = st.sampled_from(
    [
        "kernel_info_request",
        "comm_info_request",
        "is_complete_request",
        "inspect_request",
        "execute_request",
        "history_request",
        "kernel_info_reply",
        "status",
    ]
) | st.text(max_size=10).map(lambda text: "fuzz_" + text)
HEADERS = st.fixed_dictionaries(
    {},
    optional={
        "msg_id": st.text(max_size=20) | JSON_LEAVES,
        "msg_type": MSG_TYPES | JSON_LEAVES,
        "session": st.text(max_size=10),
        "username": JSON_LEAVES,
        "version": st.sampled_from(["5.3", "", "99"]) | JSON_LEAVES,
        "date": st.text(max_size=30) | JSON_LEAVES,
        "subshell_id": JSON_LEAVES,
    },
)
CONTENTS = st.fixed_dictionaries(
    {},
    optional={
        "code": st.sampled_from(SAFE_CODE) | NOT_STRINGS,
        "cursor_pos": JSON_LEAVES,
        "silent": JSON_LEAVES,
        "store_history": JSON_LEAVES,
        "user_expressions": NOT_STRINGS | st.just({}),
        "allow_stdin": st.just(False) | NOT_STRINGS,
        "stop_on_error": JSON_LEAVES,
        "detail_level": JSON_LEAVES,
    },
)
METADATA = st.fixed_dictionaries(
    {}, optional={"cellId": JSON_LEAVES, "deletedCells": JSON_VALUES, "recordTiming": JSON_LEAVES}
)


def as_part(role: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """A JSON part of a message: right shape, wrong type, or not JSON at all."""
    return st.one_of(
        role.map(lambda value: json.dumps(value).encode()),
        JSON_VALUES.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=40),
    )


PARTS = st.tuples(as_part(HEADERS), as_part(HEADERS), as_part(METADATA), as_part(CONTENTS))
CHANNELS = st.sampled_from(["shell", "control", "stdin", "iopub", "nowhere", ""])
BUFFERS = st.lists(st.binary(max_size=64), max_size=3)

# -- frames -------------------------------------------------------------------------------------


def pack_v1(channel: bytes, parts: list[bytes]) -> bytes:
    """A v1 frame with a consistent offset table, whatever the parts hold."""
    chunks = [channel, *parts]
    offsets = [8 * (len(chunks) + 2)]
    for chunk in chunks:
        offsets.append(offsets[-1] + len(chunk))
    table = len(offsets).to_bytes(8, "little") + b"".join(
        offset.to_bytes(8, "little") for offset in offsets
    )
    return table + b"".join(chunks)


def forged_table(width: int, order: str) -> st.SearchStrategy[bytes]:
    """A count and offsets of any value in front of any payload."""
    number = st.integers(0, 2 ** (8 * width) - 1) | st.integers(0, 64)
    return st.builds(
        lambda count, offsets, payload: (
            count.to_bytes(width, order)  # type: ignore[arg-type]
            + b"".join(o.to_bytes(width, order) for o in offsets)  # type: ignore[arg-type]
            + payload
        ),
        number,
        st.lists(number, max_size=24),
        st.binary(max_size=256),
    )


def mutated(frames: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    """Truncated, overlong, or with one byte of the offset table overwritten."""

    def mutate(frame: bytes, how: str, where: int, value: int, extra: bytes) -> bytes:
        where %= max(1, len(frame))
        if how == "truncate":
            return frame[:where]
        if how == "extend":
            return frame + extra
        position = where % min(len(frame), 64) if frame else 0
        return frame[:position] + bytes([value]) + frame[position + 1 :]

    return st.builds(
        mutate,
        frames,
        st.sampled_from(["truncate", "extend", "overwrite"]),
        st.integers(0, 10_000),
        st.integers(0, 255),
        st.binary(min_size=1, max_size=64),
    )


REQUEST_TYPES = frozenset(
    {
        "kernel_info_request",
        "comm_info_request",
        "is_complete_request",
        "inspect_request",
        "execute_request",
    }
)


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A request the kernel answers: (message, channel)."""
    msg_type, content, channel = draw(
        st.sampled_from(
            [
                ("kernel_info_request", {}, "shell"),
                ("kernel_info_request", {}, "control"),
                ("comm_info_request", {}, "shell"),
                ("is_complete_request", {"code": "1 +"}, "shell"),
                ("inspect_request", {"code": "len", "cursor_pos": 3, "detail_level": 0}, "shell"),
                ("execute_request", {"code": draw(st.sampled_from(SAFE_CODE))}, "shell"),
            ]
        )
    )
    metadata = {"cellId": draw(st.text(max_size=12))} if msg_type == "execute_request" else {}
    return session.msg(msg_type, content=content, metadata=metadata), channel


def v1_valid(request: tuple[dict[str, Any], str]) -> bytes:
    frame: bytes = serialize_msg_to_ws_v1(request[0], request[1], session.pack)
    return frame


def legacy_text(request: tuple[dict[str, Any], str]) -> str:
    return json.dumps({**request[0], "channel": request[1]}, default=json_default)


def legacy_binary(request: tuple[dict[str, Any], str], buffers: list[bytes]) -> bytes:
    msg = json.loads(legacy_text(request))
    frame: bytes = serialize_binary_message({**msg, "buffers": buffers})
    return frame


V1_VALID = valid_requests().map(v1_valid)
V1_FRAMES = st.one_of(
    V1_VALID,
    forged_table(8, "little"),
    mutated(V1_VALID),
    st.builds(
        lambda channel, parts, buffers: pack_v1(channel.encode(), [*parts, *buffers]),
        CHANNELS,
        PARTS,
        BUFFERS,
    ),
    st.builds(pack_v1, st.binary(max_size=8), st.lists(st.binary(max_size=32), max_size=8)),
    st.binary(max_size=128),
)
LEGACY_MESSAGES = st.fixed_dictionaries(
    {},
    optional={
        "header": HEADERS | JSON_VALUES,
        "parent_header": HEADERS | JSON_VALUES,
        "metadata": METADATA | JSON_VALUES,
        "content": CONTENTS | JSON_VALUES,
        "channel": CHANNELS | JSON_LEAVES,
        "buffers": JSON_VALUES,
    },
)
LEGACY_VALID_BINARY = st.builds(legacy_binary, valid_requests(), BUFFERS)
LEGACY_FRAMES = st.one_of(
    valid_requests().map(legacy_text),
    LEGACY_MESSAGES.map(lambda msg: json.dumps(msg)),
    JSON_VALUES.map(json.dumps),
    st.text(max_size=64),
    LEGACY_VALID_BINARY,
    forged_table(4, "big"),
    mutated(LEGACY_VALID_BINARY),
    st.binary(max_size=128),
)


def raw(frame: str | bytes) -> bytes:
    return frame.encode() if isinstance(frame, str) else frame


# -- unit properties ----------------------------------------------------------------------------


def peak_allocation(function: Callable[[], Any]) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        function()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def bounded(frame: bytes) -> int:
    """What a split may allocate: a small multiple of the frame (parts are slices, and the
    offset list has one entry per 8 or 4 bytes of table), whatever the table claims."""
    return 16 * len(frame) + 16 * 1024


@fuzz_settings(2)
@given(frame=V1_FRAMES)
def test_split_v1_frame_never_raises_and_stays_within_the_frame(frame: bytes) -> None:
    split = split_v1_frame(frame)
    assert peak_allocation(lambda: split_v1_frame(frame)) <= bounded(frame)
    if split is None:
        assert not is_well_formed(frame, v1=True)
        return
    channel, parts = split
    assert is_well_formed(frame, v1=True)
    assert len(parts) <= MAX_V1_PARTS
    assert len(channel) + sum(len(part) for part in parts) <= len(frame)
    try:  # what the server's own parser makes of a frame we let through
        server_channel, server_parts = deserialize_msg_from_ws_v1(frame)
    except UnicodeDecodeError:  # a channel name that is not UTF-8: the tap logs it
        return
    assert (server_channel.encode(), server_parts) == (channel, parts)


@fuzz_settings(2)
@given(frame=LEGACY_FRAMES.filter(lambda frame: isinstance(frame, bytes)))
def test_split_legacy_binary_frame_never_raises_and_stays_within_the_frame(frame: bytes) -> None:
    parts = split_legacy_binary_frame(frame)
    assert peak_allocation(lambda: split_legacy_binary_frame(frame)) <= bounded(frame)
    if parts is None:
        assert not is_well_formed(frame, v1=False)
        return
    assert is_well_formed(frame, v1=False)
    assert 1 <= len(parts) <= MAX_V1_PARTS
    assert b"".join(parts) == frame[4 * (len(parts) + 1) :]


@fuzz_settings(1.5)
@given(request=valid_requests(), buffers=BUFFERS)
def test_valid_frames_split_back_into_their_parts(
    request: tuple[dict[str, Any], str], buffers: list[bytes]
) -> None:
    msg, channel = request
    packed = [session.pack(msg[key]) for key in ("header", "parent_header", "metadata", "content")]
    v1 = serialize_msg_to_ws_v1([*packed, *buffers], channel)  # a list: buffers included
    split = split_v1_frame(v1)
    assert split is not None
    assert split[0] == channel.encode()
    assert [json.loads(part) for part in split[1][:4]] == json.loads(
        json.dumps(
            [msg["header"], msg["parent_header"], msg["metadata"], msg["content"]],
            default=json_default,
        )
    )
    assert split[1][4:] == buffers
    binary = legacy_binary(request, buffers)
    parts = split_legacy_binary_frame(binary)
    assert parts is not None and parts[1:] == buffers
    assert json.loads(parts[0])["header"]["msg_id"] == msg["header"]["msg_id"]


@fuzz_settings(2.5)
@given(frame=V1_FRAMES | LEGACY_FRAMES, v1=st.booleans())
def test_the_tap_never_raises(frame: str | bytes, v1: bool) -> None:
    is_well_formed(frame, v1)
    request = execute_request_from_ws(frame, v1)
    if request is not None:
        msg_id, code, cell_id = request
        assert isinstance(msg_id, str) and isinstance(code, str)
        assert cell_id is None or (isinstance(cell_id, str) and cell_id)


# -- over a real websocket ----------------------------------------------------------------------

BYSTANDER_CELL = """\
import os, time
i = 0
while not os.path.exists({stop!r}) and i < 20000:
    print(i, flush=True)
    i += 1
    time.sleep(0.005)
"""


async def answered(client: KernelWebsocketClient, msg_id: str, timeout: float = 30.0) -> None:
    """Wait for the reply to `msg_id` on this connection (anything else is skipped)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        msg = await client.receive(max(0.01, deadline - loop.time()))
        if msg is None:
            raise ConnectionError("the websocket closed")
        parent = msg.get("parent_header") or {}
        if parent.get("msg_id") == msg_id and msg["header"]["msg_type"].endswith("_reply"):
            return


def due_reply(frame: str | bytes, v1: bool) -> str | None:
    """The msg_id of a frame that is a well-formed request of ours (made by
    `valid_requests`, maybe extended with trailing bytes): the kernel must answer it."""
    try:
        if v1:
            split = split_v1_frame(frame) if isinstance(frame, bytes) else None
            assert split is not None and split[0] in (b"shell", b"control")
            header, parent, metadata, content = (json.loads(part) for part in split[1][:4])
        else:
            if isinstance(frame, bytes):
                parts = split_legacy_binary_frame(frame)
                assert parts is not None
                frame = parts[0].decode()
            msg = json.loads(frame)
            assert msg["channel"] in ("shell", "control")
            header, parent, metadata, content = (
                msg[key] for key in ("header", "parent_header", "metadata", "content")
            )
        assert all(isinstance(part, dict) for part in (header, parent, metadata, content))
        msg_id = header["msg_id"]
        assert isinstance(msg_id, str) and msg_id.startswith(session.session)
        assert header["msg_type"] in REQUEST_TYPES
    except Exception:
        return None
    return msg_id


def reply_seen(client: KernelWebsocketClient, msg_id: str) -> bool:
    return any(
        (msg.get("parent_header") or {}).get("msg_id") == msg_id
        and msg["header"]["msg_type"].endswith("_reply")
        for msg in client.received
    )


def recorded_lines(sc_registry: Any, kernel_id: str, cell_id: str) -> str:
    cell = sc_registry.find(kernel_id).notebook.get(cell_id)
    if cell is None or not cell.outputs:
        return ""
    return "".join(output.get("text", "") for output in cell.outputs)


@pytest.mark.parametrize("protocol", ["v1", "legacy"])
def test_hostile_frames_are_dropped_or_forwarded_and_everything_keeps_working(
    protocol: str,
    tmp_path: Path,
    jp_asyncio_loop: Any,
    jp_fetch: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    run: Callable[[Any], Any] = jp_asyncio_loop.run_until_complete
    v1 = protocol == "v1"
    victim, bystander = run(sc_start_kernel()), run(sc_start_kernel())
    stop = tmp_path / "stop"
    watcher = run(sc_connect(bystander, "v1"))
    run(watcher.execute(BYSTANDER_CELL.format(stop=str(stop)), cell_id="steady"))
    run(
        sc_wait_until(
            lambda: recorded_lines(sc_registry, bystander, "steady").count("\n") >= 5,
            what="the bystander's first lines",
        )
    )
    attacker = run(sc_connect(victim, protocol))
    run(answered(attacker, run(attacker.send("kernel_info_request", {}))))
    lines_before = recorded_lines(sc_registry, bystander, "steady").count("\n")
    outcomes = {"answered": 0, "dropped": 0, "other": 0}

    def drops() -> int:
        return sum(1 for record in caplog.records if DROPPED in record.getMessage())

    @fuzz_settings(0.75)
    @given(frame=V1_FRAMES if v1 else LEGACY_FRAMES)
    def fuzz(frame: str | bytes) -> None:
        assume(not any(word.encode() in raw(frame) for word in FORBIDDEN))
        note(f"frame: {frame!r}")
        before = drops()
        run(attacker.ws.write_message(frame, binary=isinstance(frame, bytes)))
        # The server handles one connection's frames in order: once this answer is back,
        # the frame above was dropped or forwarded.
        run(answered(attacker, run(attacker.send("kernel_info_request", {}))))
        msg_id = due_reply(frame, v1)
        if msg_id is not None:  # valid: forwarded, and answered (maybe after the probe)
            if not reply_seen(attacker, msg_id):
                run(answered(attacker, msg_id))
            outcomes["answered"] += 1
        elif not is_well_formed(frame, v1):
            assert drops() == before + 1, "a malformed frame was dropped without a log line"
            outcomes["dropped"] += 1
        elif drops() > before:
            outcomes["dropped"] += 1  # the server's own parser refused it: logged too
        else:
            outcomes["other"] += 1

    with caplog.at_level("WARNING"):
        fuzz()
        # A valid request still goes through the attacked connection, on both channels...
        run(answered(attacker, run(attacker.send("kernel_info_request", {}))))
        run(answered(attacker, run(attacker.send("kernel_info_request", {}, "control"))))
    assert all(count > 0 for count in outcomes.values()), outcomes

    # ...the bystander was recorded all along...
    assert recorded_lines(sc_registry, bystander, "steady").count("\n") > lines_before
    stop.touch()
    run(sc_cell_finished(bystander, "steady", timeout=120))
    text = recorded_lines(sc_registry, bystander, "steady")
    count = text.count("\n")
    assert text == "".join(f"{i}\n" for i in range(count)), "a line lost or doubled"
    # ...and the attacked kernel runs a valid cell, recorded as usual.
    run(attacker.collect(run(attacker.execute("print('still here')", cell_id="after"))))
    cell = run(sc_cell_finished(victim, "after"))
    assert cell["status"] == "ok"
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "still here\n"}]
    notebook = run(jp_fetch("api", "sidecar", "kernels", victim, "notebook"))
    assert notebook.code == 200
    failures = [
        record.getMessage()
        for record in caplog.records
        if record.exc_info is not None or record.levelname in ("ERROR", "CRITICAL")
    ]
    assert not failures, failures
