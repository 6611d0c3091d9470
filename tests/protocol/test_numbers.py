"""Kernel message numbers tell iopub messages lost inside the kernel: scripted sequences,
then real kernels (one that loses numbers on purpose, one with concurrent control traffic)."""

from __future__ import annotations

from typing import Any

from jupyter_sidecar_ext.protocol.numbers import ALLOWANCE, MessageNumbers

PREFIX = "f00d-session_4242"


def run(numbers: MessageNumbers, parent: str, seen: list[int]) -> int:
    """An execution whose iopub messages carry the numbers `seen` (busy first, idle last)."""
    numbers.busy(parent, numbers.see(f"{PREFIX}_{seen[0]}"))
    for number in seen[1:-1]:
        numbers.see(f"{PREFIX}_{number}")
    return numbers.idle(parent, numbers.see(f"{PREFIX}_{seen[-1]}"))


def test_contiguous_numbers_lose_nothing() -> None:
    assert run(MessageNumbers(), "a", list(range(10, 60))) == 0


def test_a_hole_beyond_the_allowance_is_counted() -> None:
    seen = [*range(10, 20), *range(20 + ALLOWANCE + 30, 20 + ALLOWANCE + 40)]
    assert run(MessageNumbers(), "a", seen) == 30


def test_holes_up_to_the_allowance_are_not_a_loss() -> None:
    """e.g. the execute_reply and replies the server does not see, one number each"""
    up_to = list(range(10, 10 + 2 * ALLOWANCE + 1, 2))  # ALLOWANCE holes
    assert run(MessageNumbers(), "a", up_to) == 0
    one_more = list(range(10, 10 + 2 * ALLOWANCE + 3, 2))
    assert run(MessageNumbers(), "a", one_more) == 1


def test_other_channels_messages_account_for_their_numbers() -> None:
    numbers = MessageNumbers()
    numbers.busy("a", numbers.see(f"{PREFIX}_1"))
    for _ in range(ALLOWANCE + 50):
        numbers.note_other()  # e.g. a debugger's control replies while the cell runs
    assert numbers.idle("a", numbers.see(f"{PREFIX}_{ALLOWANCE + 53}")) == 0


def test_other_executions_messages_in_between_count_as_seen() -> None:
    numbers = MessageNumbers()
    numbers.busy("a", numbers.see(f"{PREFIX}_1"))
    for number in range(2, 200):  # e.g. a subshell's outputs interleaved
        numbers.see(f"{PREFIX}_{number}")
    assert numbers.idle("a", numbers.see(f"{PREFIX}_200")) == 0


def test_a_new_kernel_process_starts_afresh() -> None:
    numbers = MessageNumbers()
    numbers.busy("old", numbers.see(f"{PREFIX}_5000"))
    numbers.busy("new", numbers.see("other-session_777_1"))
    assert numbers.idle("old", numbers.see("other-session_777_2")) == 0
    assert numbers.idle("new", numbers.see("other-session_777_3")) == 0


def test_unnumbered_ids_are_ignored() -> None:
    numbers = MessageNumbers()
    assert numbers.see("6f1c0f9e-uuid-like") is None
    assert numbers.see(None) is None
    numbers.busy("a", None)
    assert numbers.idle("a", numbers.see(f"{PREFIX}_9")) == 0


# A cell that takes message numbers without sending: what the kernel's PUB socket dropping
# messages at its high-water mark looks like from the server.
SKIPPING_CELL = (
    "session = get_ipython().kernel.session\n"
    "print('before', flush=True)\n"
    "skipped = [session.msg_id for _ in range(200)]\n"
    "print('after', flush=True)\n"
)


async def test_a_kernel_losing_messages_marks_the_cell(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_wait_until: Any, caplog: Any
) -> None:
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    await client.collect(await client.execute(SKIPPING_CELL, cell_id="lossy"))
    notebook = sc_registry.find(kernel_id).notebook
    await sc_wait_until(lambda: notebook.get("lossy").gap, what="the gap to be marked")
    assert notebook.get("lossy").status == "ok"
    assert "dropped about" in caplog.text


async def test_busy_kernels_with_control_traffic_are_not_marked(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_cell_finished: Any
) -> None:
    """Thousands of flushed lines while a client keeps asking on control: no false gap."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    code = "for i in range(3000):\n    print(i, flush=True)\n"
    msg_id = await client.execute(code, cell_id="busy")
    for _ in range(ALLOWANCE * 2):
        await client.send("kernel_info_request", {}, channel="control")
    await client.collect(msg_id)
    cell = await sc_cell_finished(kernel_id, "busy")
    assert not cell.get("gap")
    assert cell["outputs"][0]["text"] == "".join(f"{i}\n" for i in range(3000))
