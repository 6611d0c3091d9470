"""ExecutionQueue bookkeeping without a kernel: scripted replies and idles (as nbclient's tests
script message sequences), for the paths a real kernel rarely takes: lost idles, replies
nobody can see, a kernel on its way out."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from jupyter_sidecar_ext.execution.queue import ExecutionQueue, QueueConflict, QueueEntry, Source


class Sender:
    """Records what the queue asked of it."""

    source: Source = "websocket"

    def __init__(self, log: list[str], name: str, observable: bool = True) -> None:
        self.log = log
        self.name = name
        self.observable = observable

    def forward(self) -> None:
        self.log.append(f"forward {self.name}")

    def reply_observable(self) -> bool:
        return self.observable

    def aborted(self, entry: QueueEntry, running: QueueEntry | None) -> None:
        self.log.append(f"aborted {self.name} (running {running and running.msg_id})")

    def dropped(self, entry: QueueEntry) -> None:
        self.log.append(f"dropped {self.name}")


class Host:
    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.statuses: dict[str, str] = {}
        self.stopping = False

    def status_of(self, msg_id: str) -> str:
        return self.statuses.get(msg_id, "ok")

    def request_aborted(self, entry: QueueEntry) -> None:
        self.log.append(f"shadow aborted {entry.msg_id}")

    def request_lost(self, entry: QueueEntry) -> None:
        self.log.append(f"shadow gap {entry.msg_id}")

    def kernel_stopping(self) -> bool:
        return self.stopping


def entry(log: list[str], name: str, observable: bool = True, **flags: Any) -> QueueEntry:
    return QueueEntry(
        msg_id=name,
        code=name,
        cell_id=None,
        session="s",
        header={"msg_id": name},
        sender=Sender(log, name, observable),
        **flags,
    )


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def host(log: list[str]) -> Host:
    return Host(log)


def make_queue(host: Host, grace: float = 60.0) -> ExecutionQueue:
    return ExecutionQueue(host, logging.getLogger("test"), grace=grace)


async def test_next_is_forwarded_on_the_reply(log: list[str], host: Host) -> None:
    queue = make_queue(host)
    for name in "abcd":
        queue.submit(entry(log, name))
    assert log == ["forward a"] and len(queue) == 3
    queue.on_idle("a")  # idle first: the reply decides
    assert log == ["forward a"]
    queue.on_reply("a", "ok")
    assert log == ["forward a", "forward b"]
    queue.on_reply("b", "ok")  # reply first: no need to wait for its idle
    assert log[-1] == "forward c"
    queue.on_idle("b")  # late idle of a finished request: ignored
    queue.on_reply("c", "error")  # an error that aborts waits for its idle
    assert log[-1] == "forward c"
    queue.on_idle("c")
    assert log[-1] == "aborted d (running None)"
    assert queue.to_dict("k")["running"] is None


async def test_error_aborts_the_waiting_ones_unless_silent_or_not_stopping(
    log: list[str], host: Host
) -> None:
    queue = make_queue(host)
    queue.submit(entry(log, "quiet", silent=True))
    queue.submit(entry(log, "lenient", stop_on_error=False))
    queue.submit(entry(log, "strict"))
    queue.submit(entry(log, "x"))
    queue.submit(entry(log, "y"))
    for name in ("quiet", "lenient"):  # errors that do not stop the queue
        queue.on_reply(name, "error")
    queue.on_reply("strict", "error")
    queue.on_idle("strict")
    assert log[-4:] == [
        "shadow aborted x",
        "aborted x (running None)",
        "shadow aborted y",
        "aborted y (running None)",
    ]
    assert queue.running is None and len(queue) == 0


async def test_remove_rules(log: list[str], host: Host) -> None:
    queue = make_queue(host)
    queue.submit(entry(log, "a"))
    queue.submit(entry(log, "b"))
    with pytest.raises(QueueConflict):
        queue.remove("a")
    with pytest.raises(KeyError):
        queue.remove("nope")
    assert queue.remove("b").msg_id == "b"
    assert log[-1] == "aborted b (running a)"
    queue.enabled = False
    with pytest.raises(QueueConflict):
        queue.remove("a")


async def test_a_lost_idle_does_not_wedge_the_queue(
    log: list[str], host: Host, sc_wait_until: Any
) -> None:
    """An error that aborts the queue waits for its idle; lost, it must not wait forever."""
    queue = make_queue(host, grace=0.01)
    queue.submit(entry(log, "a"))
    queue.submit(entry(log, "b"))
    queue.on_reply("a", "error")
    await sc_wait_until(lambda: len(queue) == 0, timeout=5, what="b to be aborted")
    assert log == ["forward a", "shadow gap a", "shadow aborted b", "aborted b (running None)"]


async def test_an_unobservable_reply_finishes_on_idle_with_the_iopub_status(
    log: list[str], host: Host
) -> None:
    queue = make_queue(host)
    queue.submit(entry(log, "a", observable=False))
    queue.submit(entry(log, "b"))
    host.statuses["a"] = "error"
    queue.on_idle("a")
    assert log[-1] == "aborted b (running None)"


async def test_a_stopping_kernel_drops_the_queue_and_sends_nothing_more(
    log: list[str], host: Host
) -> None:
    """The shutdown's interrupt ends the running request: nothing is aborted as after an
    error, nothing waiting reaches the next kernel process, even if a request comes in
    before the restart event clears the queue."""
    queue = make_queue(host)
    queue.submit(entry(log, "a"))
    queue.submit(entry(log, "b"))
    host.stopping = True
    queue.on_reply("a", "error")
    queue.on_idle("a")
    assert log == ["forward a", "dropped b"]
    assert len(queue) == 0 and queue.running is None
    host.stopping = False
    queue.submit(entry(log, "c"))  # a request after the restart runs, alone
    assert log[-1] == "forward c"
    queue.clear()
    assert log[-1] == "dropped c" and len(queue) == 0 and queue.running is None


async def test_other_requests_follow_the_execution_sent_before_them(
    log: list[str], host: Host
) -> None:
    queue = make_queue(host)
    assert not queue.follow(lambda: log.append("send early"))  # nothing waits: send now
    for name in "abc":
        queue.submit(entry(log, name))
        if name != "a":
            assert queue.follow(lambda name=name: log.append(f"send after {name}"))
    queue.remove("c")  # what followed c now follows b
    queue.on_reply("a", "ok")
    assert log == [
        "forward a",
        "shadow aborted c",
        "aborted c (running a)",
        "forward b",
        "send after b",
        "send after c",
    ]
    queue.on_reply("b", "ok")
    queue.clear()


async def test_requests_following_aborted_executions_are_still_sent(
    log: list[str], host: Host
) -> None:
    """ipykernel aborts only execute_requests: the others it still handles."""
    queue = make_queue(host)
    for name in "ab":
        queue.submit(entry(log, name))
    assert queue.follow(lambda: log.append("send after b"))
    queue.on_reply("a", "error")
    queue.on_idle("a")
    assert log[-2:] == ["aborted b (running None)", "send after b"]


async def test_a_spared_request_lets_the_waiting_ones_run_after_its_idle(
    log: list[str], host: Host
) -> None:
    """Interrupted with "continue": its error aborts nothing, and the next one is sent only at
    its idle (ipykernel still aborts what reaches it before then)."""
    queue = make_queue(host)
    for name in "abc":
        queue.submit(entry(log, name))
    spared = queue.spare_running()
    assert spared is not None and spared.msg_id == "a"
    queue.on_reply("a", "error")
    assert log == ["forward a"]  # not yet: the kernel is still aborting
    queue.on_idle("a")
    assert log == ["forward a", "forward b"]
    queue.on_reply("b", "error")  # b was not spared: its error aborts c, as ipykernel would
    queue.on_idle("b")
    assert log[-1] == "aborted c (running None)"
    assert queue.spare_running() is None  # nothing runs


async def test_sparing_comes_too_late_after_the_request_s_own_error(
    log: list[str], host: Host
) -> None:
    queue = make_queue(host)
    queue.submit(entry(log, "a"))
    queue.submit(entry(log, "b"))
    queue.on_reply("a", "error")  # its own error, seen before the interrupt was asked
    queue.spare_running()
    queue.on_idle("a")
    assert log[-1] == "aborted b (running None)"
    queue.enabled = False
    with pytest.raises(QueueConflict):
        queue.spare_running()
