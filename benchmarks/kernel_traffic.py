#!/usr/bin/env python
"""Kernel websocket traffic: stock jupyter_server against jupyter_server + jupyter_sidecar_ext.

Starts both servers side by side (loopback only), opens one kernel websocket per server with
the ``v1.kernel.websocket.jupyter.org`` subprotocol, runs the same workloads on both in
interleaved rounds and prints a table of medians with the ratio ours/stock:

  (a) round trip of tiny execute_requests: send -> execute_reply (shell) AND status idle (iopub)
  (b) one cell printing N lines: wall time send -> idle, every line checked at the client
  (c) server process CPU (utime+stime of the server process, children excluded) per 10,000
      iopub messages, with a cell that flushes stdout after every line

Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/kernel_traffic.py [--quick] [--rounds N]

See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from common import (
    RATE_LIMITS_OFF,
    Server,
    connect_kernel,
    execute_content,
    lab_metadata,
    machine_info,
    percentile,
    scratch_dir,
    start_spinner,
    stop_spinner,
)
from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import (
    deserialize_msg_from_ws_v1,
    serialize_msg_to_ws_v1,
)
from tornado.websocket import WebSocketClientConnection

# Server log lines expected in every run (our own probe, jupyter_server defaults, shutdown).
BENIGN_LOG = (
    "404 GET /api/sidecar ",
    "websocket_ping_timeout",
    "received signal 15, stopping",
)


def flavour_server(
    name: str, base: Path, extension: bool, extra_args: Sequence[str], rate_limits_off: bool
) -> Server:
    """One way of running jupyter_server: stock (the extension off, the stock connection
    class) or ours, both written explicitly (see `Server`)."""
    return Server(
        base / name,
        config=RATE_LIMITS_OFF if rate_limits_off else None,
        extra_args=extra_args,
        extension=extension,
        name=name,
    )


# ---------------------------------------------------------------------------------------------
# kernel client


@dataclass
class ExecResult:
    """What the client saw for one execute_request."""

    reply: float  # seconds from send to execute_reply
    idle: float  # seconds from send to status idle
    done: float  # seconds from send to both
    status: str
    iopub: int  # iopub messages whose parent is the request
    streams: int  # of which stream messages
    text: str  # stdout text, when collected
    cpu: float = 0.0  # server CPU seconds, when measured


class ExecuteTimeout(Exception):
    """A request got no reply or no idle in time (not a TimeoutError: that is the run bound)."""


class KernelChannel:
    """One kernel websocket (v1 subprotocol), used for one request at a time."""

    def __init__(self, conn: WebSocketClientConnection, session: Session, name: str) -> None:
        self.conn = conn
        self.session = session
        self.name = name
        self.stuck: tuple[str, str] | None = None  # (msg_id, cellId) of a timed-out request

    @classmethod
    async def open(
        cls, server: Server, kernel_id: str, client_nodelay: bool, timeout: float
    ) -> KernelChannel:
        session = Session(key=b"", username="benchmark")  # the server re-signs
        conn = await connect_kernel(
            server, kernel_id, session.session, timeout, nodelay=client_nodelay
        )
        return cls(conn, session, server.name)

    async def execute(
        self,
        code: str,
        timeout: float,
        collect_text: bool = False,
        cpu: Callable[[], float] | None = None,
        settle: float = 0.0,
    ) -> ExecResult:
        metadata = lab_metadata()
        cell_id = str(metadata["cellId"])
        msg = self.session.msg("execute_request", content=execute_content(code), metadata=metadata)
        msg_id: str = msg["header"]["msg_id"]
        needle = msg_id.encode()
        frame = serialize_msg_to_ws_v1(msg, "shell", self.session.pack)
        chunks: list[str] = []
        reply_at = idle_at = -1.0
        status = "?"
        iopub = streams = 0
        cpu0 = cpu() if cpu is not None else 0.0
        t0 = time.perf_counter()
        await self.conn.write_message(frame, binary=True)
        deadline = t0 + timeout
        other: dict[str, int] = {}  # frames for other requests, by channel/msg_type
        while reply_at < 0 or idle_at < 0:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                self.stuck = (msg_id, cell_id)
                raise ExecuteTimeout(
                    f"{self.name}: no {'reply' if reply_at < 0 else ''}"
                    f"{'/' if reply_at < 0 and idle_at < 0 else ''}{'idle' if idle_at < 0 else ''}"
                    f" within {timeout}s for {code[:60]!r} (msg_id {msg_id}); got so far: "
                    f"execute_reply {'yes' if reply_at >= 0 else 'no'}, status idle "
                    f"{'yes' if idle_at >= 0 else 'no'}, {iopub} iopub messages ({streams} "
                    f"stream, {''.join(chunks).count(chr(10))} stdout lines collected"
                    f"{missing_lines(''.join(chunks)) if collect_text else ''}); frames "
                    f"for other parents meanwhile: {other}"
                )
            try:
                raw = await asyncio.wait_for(self.conn.read_message(), remaining)
            except TimeoutError:
                continue  # reported above, with what arrived
            now = time.perf_counter() - t0
            if raw is None:
                raise ConnectionError(f"{self.name}: kernel websocket closed")
            if not isinstance(raw, bytes):
                continue  # legacy JSON frames do not happen with the v1 subprotocol
            channel, parts = deserialize_msg_from_ws_v1(raw)
            if needle not in parts[1] or json.loads(parts[1]).get("msg_id") != msg_id:
                key = f"{channel}/{json.loads(parts[0]).get('msg_type')}"
                other[key] = other.get(key, 0) + 1
                continue
            msg_type = json.loads(parts[0]).get("msg_type")
            if channel == "shell":
                if msg_type == "execute_reply":
                    reply_at = now
                    status = str(json.loads(parts[3]).get("status"))
                continue
            if channel != "iopub":
                continue
            iopub += 1
            if msg_type == "stream":
                streams += 1
                if collect_text:
                    content = json.loads(parts[3])
                    if content.get("name") == "stdout":
                        chunks.append(content.get("text", ""))
            elif msg_type == "status" and json.loads(parts[3]).get("execution_state") == "idle":
                idle_at = now
        used = 0.0
        if cpu is not None:
            used = await settled_cpu(cpu, settle) - cpu0
        return ExecResult(
            reply=reply_at,
            idle=idle_at,
            done=max(reply_at, idle_at),
            status=status,
            iopub=iopub,
            streams=streams,
            text="".join(chunks),
            cpu=used,
        )

    async def close(self) -> None:
        self.conn.close()
        await asyncio.sleep(0)


async def settled_cpu(cpu: Callable[[], float], settle: float) -> float:
    """Server CPU once work triggered by the request (batched events, writes) has settled:
    poll until it stops increasing for `settle` seconds, bounded by 10 * settle."""
    if settle <= 0:
        return cpu()
    value = cpu()
    deadline = time.monotonic() + 10 * settle
    while time.monotonic() < deadline:
        await asyncio.sleep(settle)
        new = cpu()
        if new == value:
            break
        value = new
    return value


# ---------------------------------------------------------------------------------------------
# benchmark


@dataclass
class Target:
    ratio: float
    higher_is_better: bool
    label: str


@dataclass
class Sample:
    """Per round values of one flavour."""

    lat_p50: list[float] = field(default_factory=list)
    lat_p99: list[float] = field(default_factory=list)
    reply_p50: list[float] = field(default_factory=list)
    lines_wall: list[float] = field(default_factory=list)
    lines_count: list[int] = field(default_factory=list)
    lines_exact: list[bool] = field(default_factory=list)
    lines_msgs: list[int] = field(default_factory=list)
    msgs_wall: list[float] = field(default_factory=list)
    msgs_iopub: list[int] = field(default_factory=list)
    msgs_stream: list[int] = field(default_factory=list)
    msgs_lines: list[int] = field(default_factory=list)
    msgs_cpu: list[float] = field(default_factory=list)
    msgs_cpu10k: list[float] = field(default_factory=list)
    lines_detail: str = ""
    msgs_detail: str = ""
    msgs_exact: list[bool] = field(default_factory=list)
    msgs_iopub_all: list[int] = field(default_factory=list)
    msgs_stream_all: list[int] = field(default_factory=list)


@dataclass
class Side:
    server: Server
    channel: KernelChannel
    kernel_id: str
    sample: Sample = field(default_factory=Sample)


async def open_side(server: Server, args: argparse.Namespace) -> Side:
    session = await server.api(
        "POST",
        "/api/sessions",
        {
            "path": "benchmark.ipynb",
            "name": "benchmark.ipynb",
            "type": "notebook",
            "kernel": {"name": args.kernel},
        },
        timeout=args.timeout,
    )
    kernel_id = str(session["kernel"]["id"])
    channel = await KernelChannel.open(server, kernel_id, args.client_nodelay, args.timeout)
    # wait for the kernel to answer, then warm up both the kernel and the server paths
    for _ in range(args.warmup):
        await channel.execute("1", timeout=args.timeout)
    await channel.execute(lines_code(2000), timeout=args.timeout)
    await channel.execute(messages_code(500), timeout=args.timeout)
    return Side(server, channel, kernel_id)


async def bench_latency(sides: Sequence[Side], args: argparse.Namespace) -> None:
    for side in sides:
        await latency_run(side, args)


async def latency_run(side: Side, args: argparse.Namespace) -> None:
    done: list[float] = []
    reply: list[float] = []
    for _ in range(args.latency_count):
        result = await side.channel.execute(args.latency_code, timeout=args.timeout)
        done.append(result.done)
        reply.append(result.reply)
    side.sample.lat_p50.append(percentile(done, 50))
    side.sample.lat_p99.append(percentile(done, 99))
    side.sample.reply_p50.append(percentile(reply, 50))


def lines_code(n: int) -> str:
    """(b): unflushed prints; ipykernel batches them into few stream messages."""
    return f"for i in range({n}): print(i)"


def messages_code(n: int) -> str:
    """(c): one write and one flush per line, so exactly one stream message per line (a timer
    flush between write and flush sends the line; the explicit flush then has nothing left).
    `print(i, flush=True)` writes twice and sometimes splits a line into two messages."""
    return (
        "import sys\n"
        f"for i in range({n}):\n"
        "    sys.stdout.write(str(i) + '\\n')\n"
        "    sys.stdout.flush()\n"
    )


def missing_lines(text: str, n: int | None = None) -> str:
    """For the output of the (b)/(c) cells (lines 0, 1, 2, ...): which line numbers are
    missing, duplicated or out of order, compactly."""
    try:
        seen = [int(line) for line in text.splitlines()]
    except ValueError:
        return "; output is not one integer per line"
    if not seen:
        return "; no lines"
    top = (n - 1) if n is not None else max(seen)
    present = set(seen)
    gaps: list[str] = []
    start: int | None = None
    for i in range(top + 2):
        if i <= top and i not in present:
            start = i if start is None else start
        elif start is not None:
            gaps.append(f"{start}" if start == i - 1 else f"{start}-{i - 1}")
            start = None
    notes = [f"; lines seen {seen[0]}..{seen[-1]}"]
    if gaps:
        notes.append(f"missing {', '.join(gaps[:10])}{' ...' if len(gaps) > 10 else ''}")
    if len(present) != len(seen):
        notes.append(f"{len(seen) - len(present)} duplicated")
    if seen != sorted(seen):
        notes.append("out of order")
    return ", ".join(notes)


def expected_text(n: int) -> str:
    return "".join(f"{i}\n" for i in range(n))


async def bench_lines(sides: Sequence[Side], args: argparse.Namespace) -> None:
    runs: dict[int, list[ExecResult]] = {id(side): [] for side in sides}
    for _ in range(args.reps):
        for side in sides:
            runs[id(side)].append(
                await side.channel.execute(
                    lines_code(args.lines), timeout=args.big_timeout, collect_text=True
                )
            )
    expected = expected_text(args.lines)
    for side in sides:
        results = runs[id(side)]
        side.sample.lines_wall.append(med([r.done for r in results]))
        side.sample.lines_count.append(min(r.text.count("\n") for r in results))
        side.sample.lines_exact.append(
            all(r.text == expected and r.status == "ok" for r in results)
        )
        side.sample.lines_msgs.append(int(med([r.streams for r in results])))
        for r in results:
            if r.text != expected:
                side.sample.lines_detail += missing_lines(r.text, args.lines)


async def bench_messages(sides: Sequence[Side], args: argparse.Namespace) -> None:
    runs: dict[int, list[ExecResult]] = {id(side): [] for side in sides}
    for _ in range(args.reps):
        for side in sides:
            runs[id(side)].append(
                await side.channel.execute(
                    messages_code(args.messages),
                    timeout=args.big_timeout,
                    collect_text=True,
                    cpu=side.server.cpu_seconds,
                    settle=args.settle,
                )
            )
    expected = expected_text(args.messages)
    for side in sides:
        results = runs[id(side)]
        sample = side.sample
        sample.msgs_wall.append(med([r.done for r in results]))
        sample.msgs_iopub.append(int(med([r.iopub for r in results])))
        sample.msgs_iopub_all.extend(r.iopub for r in results)
        sample.msgs_stream_all.extend(r.streams for r in results)
        sample.msgs_stream.append(int(med([r.streams for r in results])))
        sample.msgs_lines.append(min(r.text.count("\n") for r in results))
        sample.msgs_exact.append(all(r.text == expected and r.status == "ok" for r in results))
        for r in results:
            if r.text != expected:
                sample.msgs_detail += missing_lines(r.text, args.messages)
        sample.msgs_cpu.append(med([r.cpu for r in results]))
        total_msgs = sum(r.iopub for r in results)
        sample.msgs_cpu10k.append(
            sum(r.cpu for r in results) * 10_000 / total_msgs if total_msgs else math.nan
        )


def med(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else math.nan


def cpu_per_10k(sample: Sample) -> list[float]:
    return sample.msgs_cpu10k


def verdict(ratio: float, target: Target | None) -> str:
    if target is None or math.isnan(ratio):
        return ""
    ok = ratio >= target.ratio if target.higher_is_better else ratio <= target.ratio
    return "PASS" if ok else "FAIL"


def fmt(value: float, unit_scale: float = 1.0, digits: int = 2) -> str:
    return "nan" if math.isnan(value) else f"{value * unit_scale:.{digits}f}"


def print_table(stock: Sample, ours: Sample, args: argparse.Namespace) -> list[str]:
    """Print the summary table; return the list of problems found."""
    problems: list[str] = []
    rows: list[tuple[str, float, float, int, Target | None, bool]] = []

    def row(
        label: str,
        s: Sequence[float],
        o: Sequence[float],
        digits: int = 2,
        target: Target | None = None,
        scale: float = 1.0,
    ) -> None:
        rows.append((label, med(s) * scale, med(o) * scale, digits, target, True))

    row(
        f"(a) round trip p50, {args.latency_count} x {args.latency_code!r} [ms]",
        stock.lat_p50,
        ours.lat_p50,
        target=Target(0.2, False, "<= 0.20x issue 9; <= 1.05x foundation"),
        scale=1000,
    )
    row("(a) round trip p99 [ms]", stock.lat_p99, ours.lat_p99, scale=1000)
    row("(a) execute_reply only p50 [ms]", stock.reply_p50, ours.reply_p50, scale=1000)
    row(
        f"(b) {args.lines:,}-line cell wall, send->idle [s]",
        stock.lines_wall,
        ours.lines_wall,
        digits=3,
        target=Target(1.0, False, "<= 1.00x"),
    )
    row(
        "(b) throughput [lines/s]",
        [args.lines / w for w in stock.lines_wall],
        [args.lines / w for w in ours.lines_wall],
        digits=0,
        target=Target(0.95, True, ">= 0.95x"),
    )
    row("(b) lines received at client", stock.lines_count, ours.lines_count, digits=0)
    row("(b) stream messages received", stock.lines_msgs, ours.lines_msgs, digits=0)
    row(
        f"(c) server CPU per 10k iopub msgs [s] ({args.messages:,} flushes)",
        cpu_per_10k(stock),
        cpu_per_10k(ours),
        digits=3,
        target=Target(1.0, False, "<= 1.00x"),
    )
    row("(c) server CPU for the cell [s]", stock.msgs_cpu, ours.msgs_cpu, digits=3)
    row("(c) iopub messages received", stock.msgs_iopub, ours.msgs_iopub, digits=0)
    row("(c) of which stream", stock.msgs_stream, ours.msgs_stream, digits=0)
    row("(c) lines received at client", stock.msgs_lines, ours.msgs_lines, digits=0)
    row("(c) wall send->idle [s]", stock.msgs_wall, ours.msgs_wall, digits=3)
    row(
        "(c) throughput [iopub msgs/s]",
        [n / w for n, w in zip(stock.msgs_iopub, stock.msgs_wall, strict=True)],
        [n / w for n, w in zip(ours.msgs_iopub, ours.msgs_wall, strict=True)],
        digits=0,
        target=Target(0.95, True, ">= 0.95x"),
    )

    width = max(len(r[0]) for r in rows)
    header = f"{'metric':<{width}}  {'stock':>10}  {'ours':>10}  {'ours/stock':>10}  target"
    print(header)
    print("-" * (len(header) + 40))
    for label, s_val, o_val, digits, target, _ in rows:
        ratio = o_val / s_val if s_val else math.nan
        tgt = f"{target.label:<38} {verdict(ratio, target)}" if target else ""
        print(
            f"{label:<{width}}  {fmt(s_val, digits=digits):>10}  {fmt(o_val, digits=digits):>10}"
            f"  {fmt(ratio, digits=3) + 'x':>10}  {tgt}"
        )

    # correctness: every line must arrive, and exactly one stream message per line in (c)
    for name, sample in (("stock", stock), ("ours", ours)):
        if not all(sample.lines_exact):
            problems.append(
                f"(b) {name}: stdout text not exactly the {args.lines} expected lines "
                f"(fewest lines per round: {sample.lines_count}){sample.lines_detail}"
            )
        if not all(sample.msgs_exact):
            problems.append(
                f"(c) {name}: stdout text not exactly the {args.messages} expected lines "
                f"(fewest lines per round: {sample.msgs_lines}){sample.msgs_detail}"
            )
        want = (args.messages, args.messages + 3)  # stream; + busy, execute_input, idle
        if any(n != want[0] for n in sample.msgs_stream_all) or any(
            n != want[1] for n in sample.msgs_iopub_all
        ):
            problems.append(
                f"(c) {name}: expected {want[0]} stream / {want[1]} iopub messages per cell, "
                f"got stream {sample.msgs_stream_all}, iopub {sample.msgs_iopub_all}"
            )
    if stock.msgs_iopub_all != ours.msgs_iopub_all:
        short = [
            name
            for name, sample in (("stock", stock), ("ours", ours))
            if any(n < args.messages + 3 for n in sample.msgs_iopub_all)
        ]
        why = {
            "stock": "stock lost messages: its per-websocket SUB socket and the kernel's PUB "
            "keep ZMQ's default high-water mark (1000), so they drop when the server lags",
            "ours": "ours lost messages: a bug in ours when stock delivered all of them",
        }
        problems.append(
            "(c) iopub message counts differ between stock and ours: "
            f"stock {stock.msgs_iopub_all}, ours {ours.msgs_iopub_all}"
            + "".join(f"; {why[name]}" for name in short)
        )
    return problems


def print_rounds(stock: Sample, ours: Sample) -> None:
    print("\nper round (stock | ours):")

    def pair(i: int, s: Sequence[float], o: Sequence[float], scale: float, d: int) -> str:
        return f"{s[i] * scale:.{d}f} | {o[i] * scale:.{d}f}"

    for i in range(len(stock.lat_p50)):
        print(
            f"  round {i + 1}: (a) p50 ms {pair(i, stock.lat_p50, ours.lat_p50, 1000, 2)}"
            f"  p99 ms {pair(i, stock.lat_p99, ours.lat_p99, 1000, 2)}"
            f"  (b) wall s {pair(i, stock.lines_wall, ours.lines_wall, 1, 3)}"
            f"  (c) cpu/10k s {pair(i, cpu_per_10k(stock), cpu_per_10k(ours), 1, 3)}"
            f"  msgs {stock.msgs_iopub[i]} | {ours.msgs_iopub[i]}"
        )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--quick", action="store_true", help="smoke run: fewer iterations")
    parser.add_argument("--latency-count", type=int, default=200, help="(a) requests per round")
    parser.add_argument(
        "--latency-code", default="1", help="(a) cell source (default '1': an execute_result)"
    )
    parser.add_argument("--lines", type=int, default=20_000, help="(b) lines printed")
    parser.add_argument("--messages", type=int, default=10_000, help="(c) flushed prints")
    parser.add_argument(
        "--reps", type=int, default=3, help="(b) and (c) runs per server per round (default 3)"
    )
    parser.add_argument("--warmup", type=int, default=5, help="tiny executions before timing")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.2,
        help="(c) after idle, poll server CPU until flat for this many seconds (default 0.2)",
    )
    parser.add_argument("--kernel", default="python3", help="kernelspec name")
    parser.add_argument(
        "--ours-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra traitlets config for our server, e.g. SidecarKernelConnection.tcp_nodelay=False"
        " (repeatable; passed as --KEY=VALUE)",
    )
    parser.add_argument(
        "--stock-config",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra traitlets config for the stock server (repeatable)",
    )
    parser.add_argument(
        "--aa",
        action="store_true",
        help="A/A run: 'ours' is a second stock server (noise floor; no extension needed)",
    )
    parser.add_argument(
        "--keep-rate-limits",
        action="store_true",
        help="keep the server's iopub rate limits (by default both servers run without them "
        "so the same messages flow through both)",
    )
    parser.add_argument(
        "--no-client-nodelay",
        dest="client_nodelay",
        action="store_false",
        help="do not set TCP_NODELAY on the client socket (browsers do set it)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="per small request (s)")
    parser.add_argument("--big-timeout", type=float, default=180.0, help="per big cell (s)")
    parser.add_argument("--start-timeout", type=float, default=90.0, help="server start (s)")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="whole run bound (s)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (server logs)")
    parser.add_argument(
        "--spinner",
        action="store_true",
        help="keep one CPU busy at nice 19 during the run, so no core sits idle (an idle "
        "virtual CPU wakes slowly: see benchmarks/README.md on (c))",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds = min(args.rounds, 1)
        args.latency_count = min(args.latency_count, 40)
        args.lines = min(args.lines, 5000)
        args.messages = min(args.messages, 2000)
        args.warmup = min(args.warmup, 2)
        args.reps = min(args.reps, 1)
    if (
        args.rounds < 1
        or args.reps < 1
        or args.latency_count < 1
        or args.lines < 1
        or args.messages < 1
    ):
        parser.error("counts must be positive")
    return args


def config_args(pairs: Sequence[str]) -> list[str]:
    out = []
    for pair in pairs:
        if "=" not in pair or "." not in pair.split("=", 1)[0]:
            raise SystemExit(f"--*-config expects Class.trait=value, got {pair!r}")
        out.append("--" + pair.removeprefix("--"))
    return out


async def check_flavours(stock: Server, ours: Server, aa: bool) -> list[str]:
    """Make sure the extension is loaded exactly where it should be."""
    lines = []
    s_code = await stock.status_of("/api/sidecar")
    o_code = await ours.status_of("/api/sidecar")
    lines.append(f"GET /api/sidecar: stock {s_code}, ours {o_code}")
    if s_code == 200:
        raise RuntimeError("the extension is loaded in the stock server")
    if not aa and o_code != 200:
        raise RuntimeError(
            "the extension did not load in our server (GET /api/sidecar -> "
            f"{o_code}); see its log:\n{ours.log_tail(40)}\n(use --aa for a stock-vs-stock run)"
        )
    return lines


async def recorder_check(ours: Server, kernel_id: str) -> str:
    """What our server says about the kernel it recorded (informational)."""
    try:
        kernels = await ours.api("GET", "/api/sidecar/kernels")
        mine = [k for k in kernels if isinstance(k, dict) and k.get("kernel_id") == kernel_id]
        return f"GET /api/sidecar/kernels (ours): {json.dumps(mine)[:300]}"
    except Exception as err:
        return f"GET /api/sidecar/kernels (ours) failed: {err!r}"


async def diagnose(sides: Sequence[Side]) -> None:
    """After a failure: what each server believes about its kernel."""
    print("\n-- failure diagnostics --")
    for side in sides:
        server = side.server
        for path in (f"/api/kernels/{side.kernel_id}", "/api/sidecar/kernels"):
            if path.startswith("/api/sidecar") and not server.extension:
                continue
            try:
                body = await server.api("GET", path, timeout=5.0)
                print(f"{server.name} GET {path}: {json.dumps(body)[:400]}")
            except Exception as err:
                print(f"{server.name} GET {path} failed: {err!r}")
        stuck = side.channel.stuck
        if stuck is not None and server.extension:
            path = f"/api/sidecar/kernels/{side.kernel_id}/cells/{stuck[1]}"
            try:
                body = await server.api("GET", path, timeout=5.0)
                if isinstance(body, dict):
                    body = {k: v for k, v in body.items() if k != "outputs"} | {
                        "n_outputs": len(body.get("outputs") or []),
                        "stdout_lines": sum(
                            str(o.get("text", "")).count("\n") for o in body.get("outputs") or []
                        ),
                    }
                print(f"{server.name} GET {path}: {json.dumps(body)[:600]}")
            except Exception as err:
                print(f"{server.name} GET {path} failed: {err!r}")


async def run(args: argparse.Namespace, base: Path) -> int:
    print("== kernel traffic: stock jupyter_server vs jupyter_server + jupyter_sidecar_ext ==")
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    print("PYTHONPATH=" + os.environ.get("PYTHONPATH", ""))
    for line in machine_info():
        print(line)

    rate_off = not args.keep_rate_limits
    stock = flavour_server("stock", base, False, config_args(args.stock_config), rate_off)
    ours = flavour_server("ours", base, not args.aa, config_args(args.ours_config), rate_off)
    servers = (stock, ours)
    for server in servers:
        print(f"{server.name} server: JUPYTER_CONFIG_DIR={server.config_dir}")
        print(f"  {server.printable_command()}")
        print(f"  jupyter_server_config.json: {json.dumps(server.config)}")
    print(
        f"workload: rounds={args.rounds} (interleaved, order alternates), "
        f"(a) {args.latency_count} x {args.latency_code!r}, (b) {args.lines} lines, "
        f"(c) {args.messages} flushed lines; (b), (c) x {args.reps} per round; "
        f"warmup {args.warmup}; "
        f"rate limits {'kept' if args.keep_rate_limits else 'off on both'}; "
        f"client TCP_NODELAY {args.client_nodelay}; "
        f"{'a nice 19 spinner running' if args.spinner else 'no spinner'}"
    )
    sys.stdout.flush()

    sides: list[Side] = []
    ok = False
    spinner = start_spinner() if args.spinner else None
    try:
        await asyncio.gather(*(s.start(args.start_timeout) for s in servers))
        for line in await check_flavours(stock, ours, args.aa):
            print(line)
        for server in servers:
            sides.append(await open_side(server, args))
        print(
            f"kernels: stock {sides[0].kernel_id}, ours {sides[1].kernel_id}; server pids "
            f"{stock.pid}, {ours.pid}"
        )
        sys.stdout.flush()

        benches = (("a", bench_latency), ("b", bench_lines), ("c", bench_messages))
        for rnd in range(args.rounds):
            order = sides if rnd % 2 == 0 else sides[::-1]
            for _, bench in benches:
                await bench(order, args)
            print(f"round {rnd + 1}/{args.rounds} done", flush=True)

        if not args.aa:
            print(await recorder_check(ours, sides[1].kernel_id))
        print()
        problems = print_table(sides[0].sample, sides[1].sample, args)
        print_rounds(sides[0].sample, sides[1].sample)
        ok = True
    finally:
        stop_spinner(spinner)
        if not ok:
            await diagnose(sides)
        for side in sides:
            await side.channel.close()
        await asyncio.gather(*(s.stop() for s in servers), return_exceptions=True)
        for server in servers:
            found = server.log_problems(BENIGN_LOG)
            if found:
                print(f"\n{server.name} server log: {len(found)} warning/error lines:")
                for line in found[:12]:
                    print("  " + line[:300])
            if not ok:
                print(f"\n{server.name} server log tail ({server.log_path}):")
                print(server.log_tail(25))
        if not ok:
            args.keep = True
    if problems:
        print("\nPROBLEMS:")
        for problem in problems:
            print("  - " + problem)
        return 1
    print("\nall lines and messages arrived on both servers")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_dir("kernel_traffic_", args) as base:
        try:
            return asyncio.run(asyncio.wait_for(run(args, base), args.max_seconds))
        except ExecuteTimeout as err:
            print(f"\nABORTED: {err}")
            return 2
        except (asyncio.TimeoutError, TimeoutError):
            print(f"\nABORTED: the run exceeded --max-seconds {args.max_seconds}")
            return 2


if __name__ == "__main__":
    sys.exit(main())
