#!/usr/bin/env python
"""Tiny-cell round trip with dataflow on vs off (issue 16's target: within 1.02x).

Starts two jupyter_server subprocesses with jupyter_sidecar_ext (loopback only), identical but
for `SidecarApp.dataflow_enabled`, one kernel each with a history of `--history` cells (a
realistic notebook's, from dataflow.py) run first, then times `1` round trips (send ->
execute_reply AND idle) in small interleaved blocks, back to back and paced 250 ms, order
alternating per block so load drift hits both alike. `--aa` runs dataflow off on both (the
noise floor). Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/dataflow_round_trip.py [--blocks 20] [--aa]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from common import RATE_LIMITS_OFF, KernelSocket, Server, print_header, scratch_dir
from dataflow import realistic_notebook
from variables import interleaved_blocks, on_off_lines, run_cell

TARGET = 1.02


async def open_kernel(server: Server, history: int, timeout: float) -> KernelSocket:
    body = {"path": "dataflow.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    session = await server.api("POST", "/api/sessions", body, timeout=timeout)
    client = await KernelSocket.open(server, str(session["kernel"]["id"]), server.name, timeout)
    for cell in realistic_notebook(history):  # most raise (no data, no pandas): still recorded
        await run_cell(client, cell.source, timeout)
    return client


async def run(args: argparse.Namespace, base: Path) -> None:
    print_header("dataflow: tiny-cell round trip, dataflow on vs off")
    off_args = ["--SidecarApp.dataflow_enabled=False"]
    on = Server(base / "on", RATE_LIMITS_OFF, off_args if args.aa else [], name="on")
    off = Server(base / "off", RATE_LIMITS_OFF, off_args, name="off")
    clients: list[KernelSocket] = []
    try:
        await asyncio.gather(on.start(args.start_timeout), off.start(args.start_timeout))
        for server in (on, off):
            clients.append(await open_kernel(server, args.history, args.timeout))
        pacings = (("back to back", 0.0, args.block_tiny), ("paced 250 ms", 0.25, 3))
        blocks = await interleaved_blocks(*clients, pacings, args.blocks, args.timeout)
        print(*on_off_lines(blocks, pacings, "", f"; target <= {TARGET}"), sep="\n")
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(on.stop(), off.stop(), return_exceptions=True)


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
    args = parser.parse_args(argv)
    with scratch_dir("dataflow_bench_") as base:
        asyncio.run(asyncio.wait_for(run(args, base), 1800))
    return 0


if __name__ == "__main__":
    sys.exit(main())
