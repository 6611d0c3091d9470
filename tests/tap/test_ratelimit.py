"""The relay's iopub rate limit decides as jupyter_server's own does: the same messages held
back, the same notices, the same resumes, over scripted message sequences and clocks."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection import channels as stock_channels
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from jupyter_sidecar_ext.tap.ratelimit import IopubRateLimit

KINDS = ["stream", "status-busy", "status-idle", "execute_input", "comm_open", "display_data"]


def frames(kind: str, size: int, parent: str) -> list[bytes]:
    """Header, parent header, metadata, content (what follows the signature)."""
    msg_type, _, state = kind.partition("-")
    content: dict[str, Any] = {"execution_state": state} if state else {"text": "x" * size}
    header = {"msg_id": f"m{size}", "msg_type": msg_type}
    return [json.dumps(part).encode() for part in (header, {"msg_id": parent}, {}, content)]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def time(self) -> float:
        return self.now


class StockConnection(ZMQChannelsWebsocketConnection):
    """jupyter_server's connection, its stderr notices recorded instead of written."""

    def write_stderr(self, error_message: str, parent_header: Any) -> None:
        self.notices.append((error_message, parent_header))


def stock_decisions(
    messages: list[tuple[float, list[bytes]]], limits: dict[str, float], monkeypatch: Any
) -> tuple[list[bool], list[Any]]:
    clock = Clock()
    monkeypatch.setattr(stock_channels.IOLoop, "current", staticmethod(lambda: clock))
    connection = StockConnection(session=Session(), **limits)
    connection.notices = []
    decisions = []
    for when, parts in messages:
        clock.now = when
        msg = {"header": None, "parent_header": None, "content": None}
        decisions.append(bool(connection._limit_rate("iopub", msg, [*parts])))
    return decisions, connection.notices


def relay_decisions(
    messages: list[tuple[float, list[bytes]]], limits: dict[str, float]
) -> tuple[list[bool], list[Any]]:
    notices: list[Any] = []
    limit = IopubRateLimit(
        limits["iopub_msg_rate_limit"],
        limits["iopub_data_rate_limit"],
        limits["rate_limit_window"],
        notice=lambda text, parent: notices.append((text, parent)),
        warn=lambda text: None,
    )
    return [limit.drops(parts, when) for when, parts in messages], notices


sequences = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 400),
        st.sampled_from([0.0, 0.01, 0.05, 0.1, 0.2, 0.6]),
        st.sampled_from("ab"),
    ),
    min_size=1,
    max_size=120,
)
limit_sets = st.fixed_dictionaries(
    {
        "iopub_msg_rate_limit": st.sampled_from([0.0, 5.0, 20.0]),
        "iopub_data_rate_limit": st.sampled_from([0.0, 300.0, 2000.0]),
        "rate_limit_window": st.sampled_from([0.5, 1.0, 3.0]),
    }
)


@settings(max_examples=300, deadline=None)
@given(script=sequences, limits=limit_sets)
def test_the_same_messages_are_held_back_with_the_same_notices(
    script: list[tuple[str, int, float, str]], limits: dict[str, float]
) -> None:
    messages = []
    now = 100.0
    for kind, size, pause, parent in script:
        now += pause
        messages.append((now, frames(kind, size, parent)))
    with pytest.MonkeyPatch.context() as monkeypatch:
        expected = stock_decisions(messages, limits, monkeypatch)
    assert relay_decisions(messages, limits) == expected


def test_a_flood_is_held_back_then_resumes_after_idle() -> None:
    """The shape users meet: a loop printing past the limit, the notice once, output
    again from the next execution on."""
    limits = {"iopub_msg_rate_limit": 10.0, "iopub_data_rate_limit": 0.0, "rate_limit_window": 1.0}
    flood = [(100 + i / 1000, frames("stream", 3, "a")) for i in range(50)]
    idle = [(100.06, frames("status-idle", 0, "a"))]
    after = [(100.07, frames("stream", 3, "b"))]
    decisions, notices = relay_decisions(flood + idle + after, limits)
    assert decisions[:10] == [False] * 10 and all(decisions[10:50])
    assert decisions[50:] == [False, False]
    ((text, parent),) = notices
    assert text.startswith("IOPub message rate exceeded.") and parent == {"msg_id": "a"}


def test_with_both_limits_off_the_check_is_skipped() -> None:
    limit = IopubRateLimit(0, 0, 3, notice=lambda *_: None, warn=lambda _: None)
    assert not limit.active


def test_a_stopped_stream_resumes_below_four_fifths_of_the_limit(monkeypatch: Any) -> None:
    """Five messages a second: the sixth is held back; a second on, the window still holding
    three, the next is held too (4/s is not below 4); with two left, output resumes."""
    limits = {"iopub_msg_rate_limit": 5.0, "iopub_data_rate_limit": 0.0, "rate_limit_window": 1.0}
    times = [100.0, 100.1, 100.2, 100.3, 100.4, 100.5, 101.15, 101.25]
    messages = [(when, frames("stream", 1, "a")) for when in times]
    decisions, notices = relay_decisions(messages, limits)
    assert decisions == [False] * 5 + [True, True, False]
    assert (decisions, notices) == stock_decisions(messages, limits, monkeypatch)
