#!/usr/bin/env python
"""Tiny-cell round trip with dataflow on vs off (issue 16's target: within 1.02x).

Starts two jupyter_server subprocesses with jupyter_sidecar_ext (loopback only), identical but
for `SidecarApp.dataflow_enabled`, one kernel each with a history of `--history` cells (a
realistic notebook's, from dataflow.py) run first, then times `1` round trips (send ->
execute_reply AND idle) in small interleaved blocks, back to back and paced 250 ms, order
alternating per block so load drift hits both alike. `--aa` runs dataflow off on both (the
noise floor). `--cpu` accounts CPU instead of timing: per round trip, the CPU time each
server process (all its threads) and its kernel spent, over blocks of back-to-back cells each
followed by a pause in which the work they deferred (event batches, snapshots) lands: stable
where wall-clock ratios on a shared machine are not. Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/dataflow_round_trip.py [--blocks 20] [--aa] [--cpu]
        [--pairs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

from common import (
    RATE_LIMITS_OFF,
    KernelSocket,
    Server,
    child_pids,
    cpu_ns,
    print_header,
    scratch_dir,
)
from dataflow import realistic_notebook
from variables import interleaved_blocks, on_off_lines, p50, run_cell, tiny_round_trips

TARGET = 1.02
# After each CPU block: the event flush (50 ms), the variables snapshot (20 ms debounce, then
# the control round trip) and the store's writes the block caused land before it is read.
SETTLE = 0.3


async def open_kernel(server: Server, history: int, timeout: float) -> KernelSocket:
    body = {"path": "dataflow.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    session = await server.api("POST", "/api/sessions", body, timeout=timeout)
    client = await KernelSocket.open(server, str(session["kernel"]["id"]), server.name, timeout)
    for cell in realistic_notebook(history):  # most raise (no data, no pandas): still recorded
        await run_cell(client, cell.source, timeout)
    return client


Figures = dict[str, float]  # what a pair measured, summarised over pairs by its median


async def run(args: argparse.Namespace, base: Path) -> None:
    """One pair of servers, or several (`--pairs`): two identical processes differ by a few
    percent on their own (a kernel's CPU per cell, steadily through a run), so one pair's
    ratio carries that pair's luck; the median over fresh pairs does not."""
    print_header("dataflow: tiny-cell round trip, dataflow on vs off")
    found: dict[str, list[float]] = {}
    for pair in range(args.pairs):
        prefix = f"pair {pair + 1}/{args.pairs}: " if args.pairs > 1 else ""
        for key, value in (await measure_pair(args, base / f"pair{pair}", prefix)).items():
            found.setdefault(key, []).append(value)
    if args.pairs > 1:
        for key, values in found.items():
            each = ", ".join(f"{value:.3f}" for value in values)
            median = statistics.median(values)
            print(f"median over {len(values)} pairs, {key}: {median:.3f} ({each})")


async def measure_pair(args: argparse.Namespace, base: Path, prefix: str) -> Figures:
    off_args = ["--SidecarApp.dataflow_enabled=False"]
    on = Server(base / "on", RATE_LIMITS_OFF, off_args if args.aa else [], name="on")
    off = Server(base / "off", RATE_LIMITS_OFF, off_args, name="off")
    clients: list[KernelSocket] = []
    try:
        await asyncio.gather(on.start(args.start_timeout), off.start(args.start_timeout))
        for server in (on, off):
            clients.append(await open_kernel(server, args.history, args.timeout))
        if args.cpu:
            cpu = await cpu_blocks((on, off), clients, args.blocks, args.block_tiny, args.timeout)
            print(*(prefix + line for line in cpu_lines(cpu)), sep="\n", flush=True)
            return {
                f"{name} CPU on / off": _mean(cpu[(name, "on")]) / _mean(cpu[(name, "off")])
                for name in ("server", "kernel")
            }
        pacings = (("back to back", 0.0, args.block_tiny), ("paced 250 ms", 0.25, 3))
        blocks = await interleaved_blocks(*clients, pacings, args.blocks, args.timeout)
        lines = on_off_lines(blocks, pacings, prefix, f"; target <= {TARGET}")
        print(*lines, sep="\n", flush=True)
        return {
            f"round trip ratio, {label}": p50(blocks[(label, "on")]) / p50(blocks[(label, "off")])
            for label, _, _ in pacings
        }
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(on.stop(), off.stop(), return_exceptions=True)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


CpuBlocks = dict[tuple[str, str], list[float]]  # (process, "on"/"off") -> µs per round trip


async def cpu_blocks(
    servers: tuple[Server, Server],
    clients: list[KernelSocket],
    blocks: int,
    cells: int,
    timeout: float,
) -> CpuBlocks:
    """Per block and side, server and kernel CPU µs per round trip of `cells` back-to-back
    tiny cells and the SETTLE after them; order alternating per block, as for timings."""
    kernels = {server.name: child_pids(server.pid) for server in servers}
    found: CpuBlocks = {}
    pairs = list(zip(servers, clients, strict=True))
    for block in range(blocks):
        for server, client in pairs if block % 2 == 0 else pairs[::-1]:
            server_0 = cpu_ns(server.pid)
            kernel_0 = sum(cpu_ns(pid) for pid in kernels[server.name])
            await tiny_round_trips(client, cells, 0.0, timeout)
            await asyncio.sleep(SETTLE)
            kernel = sum(cpu_ns(pid) for pid in kernels[server.name]) - kernel_0
            found.setdefault(("server", server.name), []).append(
                (cpu_ns(server.pid) - server_0) / cells / 1000
            )
            found.setdefault(("kernel", server.name), []).append(kernel / cells / 1000)
    return found


def cpu_lines(blocks: CpuBlocks) -> list[str]:
    """Per process: mean µs per round trip on and off, the difference, and the difference
    in the even and odd blocks (the noise)."""
    lines = []
    for process in ("server", "kernel"):
        on, off = blocks[(process, "on")], blocks[(process, "off")]
        halves = [_mean(on[k::2]) - _mean(off[k::2]) for k in (0, 1)]
        lines.append(
            f"{process} CPU per round trip: on {_mean(on):.0f} µs, off {_mean(off):.0f} µs, "
            f"on - off {_mean(on) - _mean(off):+.0f} µs (even/odd blocks {halves[0]:+.0f}/"
            f"{halves[1]:+.0f}; ratio {_mean(on) / _mean(off):.3f}; {len(on)} blocks each)"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blocks", type=int, default=20, help="interleaved blocks")
    parser.add_argument("--block-tiny", type=int, default=10, help="back-to-back cells per block")
    parser.add_argument("--history", type=int, default=200, help="cells run first")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--start-timeout", type=float, default=90.0)
    parser.add_argument("--aa", action="store_true", help="A/A: dataflow off on both")
    parser.add_argument(
        "--pairs", type=int, default=1, help="fresh server pairs, one after the other"
    )
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="CPU µs per round trip of each server and kernel instead of timings "
        "(--block-tiny cells per block; 50 or more recommended)",
    )
    args = parser.parse_args(argv)
    with scratch_dir("dataflow_bench_") as base:
        asyncio.run(asyncio.wait_for(run(args, base), 1800 * args.pairs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
