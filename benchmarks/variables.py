#!/usr/bin/env python
"""Variable snapshots: what they cost, and against running an inspection snippet per cell.

Starts two jupyter_server subprocesses with jupyter_sidecar_ext (loopback only), identical
but for `SidecarApp.variables_enabled` ("on" / "off"), one kernel each, with a 500,000-string
list defined in both kernels, then measures in one run:

  (a) GET /api/sidecar/kernels/{id}/variables latency on "on": kernel idle, and while a cell
      sleeps (the answer comes from the cache; kernel_busy says so)
  (b) round trip of a tiny cell (send -> execute_reply AND idle), "on" vs "off", in small
      interleaved blocks: back to back, paced 250 ms (every cell refreshed, as when a person
      runs cells), and paced just past the debounce (each refresh overlaps the next cell)
  (c) per cell, with the list defined: ours ("on", the snapshot refreshed over control) vs
      the jupyterlab-variableinspector approach on "off" (after each cell, an inspection
      snippet executed on the shell, store_history=False, as that extension sends it):
      time until the next cell can run, time until the variable list is fresh, and the
      iopub messages/bytes every client receives for it

Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/variables.py [--quick] [--blocks N]

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import (
    RATE_LIMITS_OFF,
    Execution,
    KernelSocket,
    Server,
    machine_info,
    percentile,
    scratch_dir,
)

BIG_LIST = "strings = [str(i) * 3 for i in range(500_000)]"

# The same work as jupyterlab-variableinspector's Python query (our own code): list the user
# names, keep those whose str() does not start with "<", and for each build type, size,
# shape and a 150-character content; return it all as JSON. Defined once, silently.
INSPECTOR_INIT = """
import json as _vi_json, sys as _vi_sys
from IPython import get_ipython as _vi_ip
from IPython.core.magics.namespace import NamespaceMagics as _vi_NM
_vi_nms = _vi_NM()
_vi_nms.shell = _vi_ip().kernel.shell
def _vi_list():
    rows = []
    for name in _vi_nms.who_ls():
        obj = eval(name)
        try:
            if not isinstance(obj, str) and str(obj)[0] == "<":
                continue
        except Exception:
            continue
        shape = len(obj) if isinstance(obj, (list, dict)) else None
        content = str(obj)
        rows.append({"varName": name, "varType": type(obj).__name__,
                     "varSize": str(_vi_sys.getsizeof(obj)), "varShape": str(shape or ""),
                     "varContent": content[:150] + (" ..." if len(content) > 150 else "")})
    return _vi_json.dumps(rows, ensure_ascii=False)
"""
INSPECTOR_QUERY = "_vi_list()"


async def wait_all(executions: Sequence[Execution], timeout: float) -> dict[str, Any]:
    """Until every request has its reply and its idle; returns the last reply's content.
    The socket reads continuously, as a browser does, so messages for others (like the
    snapshot's status pair) are handled when they arrive, not during the next cell."""
    await asyncio.wait_for(asyncio.gather(*(e.done for e in executions)), timeout)
    return executions[-1].reply


async def run_cell(
    client: KernelSocket, code: str, timeout: float, **options: Any
) -> dict[str, Any]:
    return await wait_all([await client.execute(code, **options)], timeout)


async def open_kernel(server: Server, timeout: float) -> tuple[str, KernelSocket, int]:
    body = {"path": "variables.ipynb", "type": "notebook", "kernel": {"name": "python3"}}
    session = await server.api("POST", "/api/sessions", body, timeout=timeout)
    kernel_id = str(session["kernel"]["id"])
    client = await KernelSocket.open(server, kernel_id, server.name, timeout)
    for _ in range(3):
        await run_cell(client, "1", timeout)
    reply = await run_cell(client, BIG_LIST, timeout)
    return kernel_id, client, int(reply["execution_count"])


async def variables(server: Server, kernel_id: str) -> dict[str, Any]:
    payload: dict[str, Any] = await server.api("GET", f"/api/sidecar/kernels/{kernel_id}/variables")
    return payload


async def until_snapshot(server: Server, kernel_id: str, count: int, timeout: float) -> float:
    """Poll (every 2 ms) until the snapshot includes execution `count`; returns when."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payload = await variables(server, kernel_id)
        if payload["execution_count"] == count and not payload["stale"]:
            return time.perf_counter()
        await asyncio.sleep(0.002)
    raise TimeoutError(f"no snapshot of execution {count} within {timeout}s")


async def get_latency(server: Server, kernel_id: str, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await variables(server, kernel_id)
        times.append(time.perf_counter() - t0)
    return times


async def bench_get(server: Server, kernel_id: str, client: KernelSocket, args: Any) -> list[str]:
    idle = await get_latency(server, kernel_id, args.gets)
    sleeper = await client.execute(f"import time; time.sleep({args.busy_seconds})")
    await asyncio.sleep(0.3)
    busy: list[float] = []
    busy_states = set()
    t_end = time.monotonic() + args.busy_seconds - 0.6
    while time.monotonic() < t_end and len(busy) < args.gets:
        t0 = time.perf_counter()
        payload = await variables(server, kernel_id)
        busy.append(time.perf_counter() - t0)
        busy_states.add((payload["state"], payload["kernel_busy"], len(payload["variables"])))
    await wait_all([sleeper], args.busy_seconds + args.timeout)
    return [
        f"(a) GET variables, idle: p50 {ms(percentile(idle, 50))} p99 {ms(percentile(idle, 99))}"
        f" ({len(idle)} requests)",
        f"(a) GET variables, cell running: p50 {ms(percentile(busy, 50))} "
        f"p99 {ms(percentile(busy, 99))} ({len(busy)} requests; (state, kernel_busy, "
        f"variables) seen: {sorted(busy_states)})",
    ]


def p50(blocks: Sequence[Sequence[float]]) -> float:
    return percentile([value for block in blocks for value in block], 50)


async def tiny_round_trips(client: KernelSocket, n: int, gap: float, timeout: float) -> list[float]:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        await run_cell(client, "1", timeout)
        times.append(time.perf_counter() - t0)
        if gap:
            await asyncio.sleep(gap)
    return times


Pacing = tuple[str, float, int]  # label, seconds between cells, cells per block
Blocks = dict[tuple[str, str], list[list[float]]]  # (pacing label, "on"/"off") -> blocks


async def interleaved_blocks(
    on_client: KernelSocket,
    off_client: KernelSocket,
    pacings: Sequence[Pacing],
    count: int,
    timeout: float,
) -> Blocks:
    """Tiny round trips in `count` small blocks, order alternating per block, so load drifts
    on a shared machine hit both servers alike."""
    blocks: Blocks = {}
    for block in range(count):
        pairs = [("on", on_client), ("off", off_client)]
        for name, client in pairs if block % 2 == 0 else pairs[::-1]:
            for label, pause, cells in pacings:
                times = await tiny_round_trips(client, cells, pause, timeout)
                blocks.setdefault((label, name), []).append(times)
    return blocks


def on_off_lines(blocks: Blocks, pacings: Sequence[Pacing], prefix: str, note: str) -> list[str]:
    """Per pacing: both p50s, their ratio, and the even/odd blocks' ratios (the noise)."""
    lines = []
    for label, _, _ in pacings:
        on_all, off_all = blocks[(label, "on")], blocks[(label, "off")]
        ratio = p50(on_all) / p50(off_all)
        halves = [p50(on_all[k::2]) / p50(off_all[k::2]) for k in (0, 1)]
        lines.append(
            f"{prefix}tiny cell round trip p50, {label}: on {ms(p50(on_all))}, off "
            f"{ms(p50(off_all))}, ratio {ratio:.3f} (even/odd blocks {halves[0]:.3f}/"
            f"{halves[1]:.3f}; {sum(map(len, on_all))} cells each{note})"
        )
    return lines


async def per_cell_ours(
    server: Server, kernel_id: str, client: KernelSocket, args: Any
) -> list[float]:
    """[s until the next cell can run, s until the snapshot has it, iopub msgs, bytes]."""
    ready, fresh = [], []
    m0, b0 = client.iopub_msgs, client.iopub_bytes
    for i in range(args.cells):
        t0 = time.perf_counter()
        reply = await run_cell(client, f"x{i} = {i}", args.timeout)
        ready.append(time.perf_counter() - t0)
        fresh.append(await until_snapshot(server, kernel_id, reply["execution_count"], 30) - t0)
    return [
        statistics.median(ready),
        statistics.median(fresh),
        (client.iopub_msgs - m0) / args.cells,
        (client.iopub_bytes - b0) / args.cells,
    ]


async def per_cell_inspector(client: KernelSocket, args: Any) -> list[float]:
    times = []
    m0, b0 = client.iopub_msgs, client.iopub_bytes
    for i in range(args.cells):
        t0 = time.perf_counter()
        cell = await client.execute(f"x{i} = {i}")
        query = await client.execute(INSPECTOR_QUERY, store_history=False, stop_on_error=False)
        await wait_all([cell, query], args.timeout)
        times.append(time.perf_counter() - t0)
    msgs = (client.iopub_msgs - m0) / args.cells
    return [statistics.median(times)] * 2 + [msgs, (client.iopub_bytes - b0) / args.cells]


async def namespace_size(client: KernelSocket, timeout: float) -> str:
    """How many names the kernel's namespace holds (IPython's _N/_iN history included)."""
    expressions = {"n": "len(get_ipython().user_ns)"}
    reply = await run_cell(client, "pass", timeout, silent=True, user_expressions=expressions)
    return str(reply["user_expressions"]["n"]["data"]["text/plain"])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


async def run(args: argparse.Namespace, base: Path) -> None:
    print("== variables: snapshots over control vs off vs an inspection snippet per cell ==")
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    for line in machine_info():
        print(line)
    off_args = ["--SidecarApp.variables_enabled=False"]
    on = Server(base / "on", RATE_LIMITS_OFF, off_args if args.aa else [], name="on")
    off = Server(base / "off", RATE_LIMITS_OFF, off_args, name="off")
    for server in (on, off):
        print(f"{server.name}: {server.printable_command()}")
    clients: list[KernelSocket] = []
    try:
        await asyncio.gather(on.start(args.start_timeout), off.start(args.start_timeout))
        on_id, on_client, count = await open_kernel(on, args.timeout)
        _, off_client, _ = await open_kernel(off, args.timeout)
        clients.extend((on_client, off_client))
        if not args.aa:
            await until_snapshot(on, on_id, count, 30)
            snapshot = await variables(on, on_id)
            strings = next(v for v in snapshot["variables"] if v["name"] == "strings")
            print(f"snapshot of the 500,000-string list: {json.dumps(strings)[:160]}")
            print(*await bench_get(on, on_id, on_client, args), sep="\n")

            names = await namespace_size(on_client, args.timeout)
            await run_cell(
                off_client, INSPECTOR_INIT, args.timeout, silent=True, store_history=False
            )
            ours = await per_cell_ours(on, on_id, on_client, args)
            theirs = await per_cell_inspector(off_client, args)
            print(f"(c) {args.cells} cells 'x<i> = <i>' each; kernel namespace ~{names} names")
            for label, row in (("ours (control)", ours), ("inspector snippet", theirs)):
                print(
                    f"(c) {label:18}: next cell can run after {ms(row[0])}, variables fresh after "
                    f"{ms(row[1])}, iopub per cell {row[2]:.1f} msgs / {row[3] / 1024:.1f} KiB"
                )
            print(f"(c) ratio snippet/ours, time per cell: {theirs[0] / ours[0]:.1f}x")

        collide = args.debounce + 0.01
        pacings = (
            ("back to back", 0.0, args.block_tiny),
            (f"paced {ms(args.pace)}", args.pace, args.block_paced),
            (f"colliding, paced {ms(collide)}", collide, args.block_tiny),
        )
        blocks = await interleaved_blocks(on_client, off_client, pacings, args.blocks, args.timeout)
        print(*on_off_lines(blocks, pacings, "(b) ", ""), sep="\n")
        names = await namespace_size(on_client, args.timeout)
        print(f"(b) target <= 1.05 back to back and paced; kernel namespace now ~{names} names")
    finally:
        for client in clients:
            await client.close()
        await asyncio.gather(on.stop(), off.stop(), return_exceptions=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--blocks", type=int, default=20, help="(b) interleaved blocks")
    parser.add_argument("--block-tiny", type=int, default=10, help="(b) cells per block")
    parser.add_argument("--block-paced", type=int, default=3, help="(b) paced cells per block")
    parser.add_argument("--pace", type=float, default=0.25, help="(b) seconds between cells")
    parser.add_argument("--cells", type=int, default=30, help="(c) cells per approach")
    parser.add_argument("--gets", type=int, default=300, help="(a) requests per case")
    parser.add_argument("--busy-seconds", type=float, default=4.0, help="(a) sleeping cell")
    parser.add_argument("--debounce", type=float, default=0.02, help="the server's default")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--start-timeout", type=float, default=90.0)
    parser.add_argument("--quick", action="store_true", help="4 blocks, fewer cells")
    parser.add_argument(
        "--aa", action="store_true", help="A/A: snapshots off on both servers, (b) only"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.blocks, args.cells, args.gets = 4, 8, 50
    with scratch_dir("variables_bench_") as base:
        asyncio.run(asyncio.wait_for(run(args, base), 1800))
    return 0


if __name__ == "__main__":
    sys.exit(main())
