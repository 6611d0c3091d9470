"""All kernels' iopub reading shares a bounded part of each loop turn: a reader alone reads
at once; past the budget, readers wait for the next turn, in order, round robin."""

from __future__ import annotations

import asyncio

from jupyter_sidecar_ext.channels.zmq.turns import ReadTurns


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Kernel:
    """A reader that spends `cost` seconds per batch and has `batches` of them."""

    def __init__(self, name: str, clock: Clock, runs: list[str], batches: int, cost: float):
        self.name, self.clock, self.runs = name, clock, runs
        self.batches, self.cost = batches, cost

    def read(self) -> bool:
        self.runs.append(self.name)
        self.clock.now += self.cost
        self.batches -= 1
        return self.batches > 0


async def next_turn() -> None:
    await asyncio.sleep(0)  # one loop turn: the turn callback scheduled before runs first


async def test_a_reader_alone_reads_at_once_and_every_turn_after() -> None:
    clock, runs = Clock(), []
    turns = ReadTurns(budget=4, clock=clock)
    kernel = Kernel("a", clock, runs, batches=3, cost=1)
    turns.request(kernel.read)
    assert runs == ["a"]  # no loop turn in between
    await next_turn()
    assert runs == ["a", "a"]
    await next_turn()
    assert runs == ["a", "a", "a"]
    await next_turn()
    assert runs == ["a", "a", "a"]


async def test_busy_kernels_take_turns_within_the_budget() -> None:
    clock, runs = Clock(), []
    turns = ReadTurns(budget=4, clock=clock)
    kernels = [Kernel(name, clock, runs, batches=3, cost=3) for name in "abcd"]
    for kernel in kernels:  # all readable in the same loop turn
        turns.request(kernel.read)
    assert runs == ["a"]  # a wants more: it waits in line first, the others behind it
    turn_runs = []
    for _ in range(6):
        before = len(runs)
        await next_turn()
        turn_runs.append(runs[before:])
    # 3 s each against a 4 s budget: two readers a turn, in line; one with more goes last
    assert turn_runs == [["a", "b"], ["c", "d"], ["a", "b"], ["c", "d"], ["b", "c"], ["d"]]
    assert all(kernel.batches == 0 for kernel in kernels)


async def test_a_closed_reader_leaves_the_line() -> None:
    clock, runs = Clock(), []
    turns = ReadTurns(budget=1, clock=clock)
    first, second = (Kernel(name, clock, runs, batches=2, cost=1) for name in "ab")
    turns.request(first.read)
    turns.request(second.read)
    turns.cancel(second.read)
    await next_turn()
    await next_turn()
    assert runs == ["a", "a"]
