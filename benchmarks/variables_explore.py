#!/usr/bin/env python
"""Drill-down and paged rows through the server: first page of a 1,000,000-row DataFrame
(target < 300 ms), a drill-down page (target < 50 ms).

Starts one jupyter_server subprocess with jupyter_sidecar_ext (loopback only) and one kernel
in which a 1,000,000 x 5 float DataFrame `big` (built with numpy), a 1,000-key nested dict
`nested` and a 1000 x 100 ndarray `grid` are defined, then measures, as a client of the REST
API (requests one after the other, each timed from send to parsed JSON):

  (a) the first request of the kernel (creates the explorer's subshell, sends its helper)
  (b) GET .../variables/big/rows?offset=0&limit=100: the grid's first page
  (c) the same at offset 999,900 (the last page), and sorted by a column (sort=a)
  (d) GET .../variables/nested/children?limit=100, .../children?path=["k5"], the DataFrame's
      columns (big/children) and an array's first axis (grid/children)
  (e) a tiny cell's round trip, alone and with a rows page fetched after each cell (what an
      open grid does when it follows executions)

Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/variables_explore.py [--quick]

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import sys
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import RATE_LIMITS_OFF, KernelSocket, Server, machine_info, percentile, scratch_dir

SETUP = """
import numpy as np, pandas as pd
big = pd.DataFrame(np.random.default_rng(0).random((1_000_000, 5)), columns=list("abcde"))
nested = {f"k{i}": [i, {"x": i, "y": [i] * 3}] for i in range(1000)}
grid = np.arange(100_000).reshape(1000, 100)
"""
TARGETS = {"rows": 0.300, "children": 0.050}


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


async def timed(server: Server, path: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await server.api("GET", path)
        times.append(time.perf_counter() - t0)
    return times


async def run_cell(client: KernelSocket, code: str, timeout: float) -> dict[str, Any]:
    execution = await client.execute(code)
    await asyncio.wait_for(execution.done, timeout)
    return execution.reply


def line(label: str, times: Sequence[float], target: float | None = None) -> str:
    p50 = percentile(times, 50)
    verdict = ""
    if target is not None:
        verdict = f"  target < {ms(target)}: {'PASS' if p50 < target else 'FAIL'}"
    return f"{label}: p50 {ms(p50)} p99 {ms(percentile(times, 99))} ({len(times)}){verdict}"


async def run(args: argparse.Namespace, base: Path) -> bool:
    print("== variables explorer: rows and children through the server ==")
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    for info in machine_info():
        print(info)
    server = Server(base / "on", RATE_LIMITS_OFF, name="on")
    print(f"server: {server.printable_command()}")
    client: KernelSocket | None = None
    passed = True
    try:
        await server.start(args.start_timeout)
        body = {"path": "explore.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
        session = await server.api("POST", "/api/sessions", body, timeout=args.timeout)
        kernel_id = str(session["kernel"]["id"])
        client = await KernelSocket.open(server, kernel_id, "on", args.timeout)
        reply = await run_cell(client, SETUP, args.timeout)
        assert reply["status"] == "ok", reply
        prefix = f"/api/sidecar/kernels/{kernel_id}/variables"
        deadline = time.monotonic() + 60
        while True:  # the snapshot lists the names (the explorer serves only listed ones)
            snapshot = await server.api("GET", prefix)
            if {"big", "nested"} <= {v["name"] for v in snapshot["variables"]}:
                break
            assert time.monotonic() < deadline, snapshot
            await asyncio.sleep(0.05)

        first = await timed(server, f"{prefix}/nested/children?limit=1", 1)
        print(f"(a) first request of the kernel (subshell created): {ms(first[0])}")
        n = args.n
        rows = await timed(server, f"{prefix}/big/rows?offset=0&limit=100", n)
        print(line("(b) big: first page of 100 rows (1,000,000 x 5)", rows, TARGETS["rows"]))
        passed &= percentile(rows, 50) < TARGETS["rows"]
        last = await timed(server, f"{prefix}/big/rows?offset=999900&limit=100", n)
        print(line("(c) big: last page", last, TARGETS["rows"]))
        ordered = await timed(
            server, f"{prefix}/big/rows?offset=0&limit=100&sort=a", max(3, n // 5)
        )
        print(line("(c) big: first page sorted by a (sorts 1,000,000 floats)", ordered))
        page = await timed(server, f"{prefix}/nested/children?offset=0&limit=100", n)
        print(line("(d) nested: first 100 of 1,000 children", page, TARGETS["children"]))
        passed &= percentile(page, 50) < TARGETS["children"]
        key = urllib.parse.quote(json.dumps(["k5"]))
        deep = await timed(server, f"{prefix}/nested/children?path={key}", n)
        print(line('(d) nested: children at path ["k5"]', deep, TARGETS["children"]))
        columns = await timed(server, f"{prefix}/big/children", n)
        print(line("(d) big: its 5 columns", columns, TARGETS["children"]))
        axis = await timed(server, f"{prefix}/grid/children?limit=100", n)
        print(
            line("(d) grid: first 100 of its first axis (rows of 100)", axis, TARGETS["children"])
        )

        alone, following = [], []
        for block in range(args.blocks):
            for with_grid in (block % 2 == 0, block % 2 == 1):
                for _ in range(args.cells):
                    t0 = time.perf_counter()
                    await run_cell(client, "1", args.timeout)
                    (following if with_grid else alone).append(time.perf_counter() - t0)
                    if with_grid:
                        await server.api("GET", f"{prefix}/big/rows?offset=0&limit=100")
        ratio = percentile(following, 50) / percentile(alone, 50)
        print(line("(e) tiny cell round trip, nothing open", alone))
        print(line("(e) tiny cell round trip, a rows page fetched after each cell", following))
        print(f"(e) ratio {ratio:.3f} (the page is fetched after the cell's reply, as a grid does)")
    finally:
        if client is not None:
            await client.close()
        await server.stop()
    print("PASS" if passed else "FAIL")
    return passed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=30, help="requests per case")
    parser.add_argument("--blocks", type=int, default=10, help="(e) interleaved blocks")
    parser.add_argument("--cells", type=int, default=10, help="(e) cells per block")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--start-timeout", type=float, default=90.0)
    parser.add_argument("--quick", action="store_true", help="fewer requests and cells")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.blocks, args.cells = 10, 4, 5
    with scratch_dir("variables_explore_bench_") as base:
        passed = asyncio.run(asyncio.wait_for(run(args, base), 1800))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
