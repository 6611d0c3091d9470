#!/usr/bin/env python
"""Lint benchmark: POST /api/sidecar/lint on a generated 200-cell, ~5,000-line notebook.

Measures, on a real jupyter_server subprocess with the extension:

  cold   all cells new to the server's cache (each round marks its cells so they are new)
  warm   the same request again (every cell answered from the cache)
  stall  the longest event-loop stall while a cold lint runs: a separate process pings
         GET /api/status every 5 ms and records each round trip

against plain serial isort + black per cell in this one process (black.format_cell in its
default safe mode, as `black notebook.ipynb` runs; also shown with --fast), and prints a table
with the targets of issue 4: cold <= 0.4x serial on 2 cores, warm <= 50 ms, no stall > 20 ms.

    PYTHONPATH=. .venv/bin/python benchmarks/lint.py [--rounds N] [--workers N]

`--overload N` runs the overload scenario of issue 18 instead: N concurrent cold requests of
`--cells` cells from user "heavy", then, once they are all sent, one 1-cell request from user
"light" (users told apart by an X-Bench-User header, through a test identity provider). It
prints the light request's latency, the heavy requests' answers (200 / 429) and their cells
ok / failed / timed out, and how long the whole burst took.

    PYTHONPATH=. .venv/bin/python benchmarks/lint.py --overload 60 \\
        --server-arg=--LintService.timeout=8
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from common import Server, cpu_seconds, percentile, runqueue_wait

TARGET_COLD_RATIO = 0.4
TARGET_WARM_MS = 50.0
TARGET_STALL_MS = 20.0
PING_INTERVAL = 0.005


# ---------------------------------------------------------------------------------------------
# the notebook

IMPORTS = """import sys,os
from collections import OrderedDict,defaultdict
import numpy as np
import json"""

FUNCTION = """def transform_{i}(data,factor = {i}, *args, verbose=False, **options):
    '''Scale and filter the data of step {i}.'''
    result = {{ 'name':'step_{i}', 'values':[ x*factor for x in data if x%2==0 ], 'count' : len(data) }}
    if verbose :
        print( "step %d: %d values" % ({i}, len(result['values'])) , file = sys.stderr )
    for key,value in options.items():
        result[ key ] = value
    return result"""  # noqa: E501 (messy on purpose: the formatter's work)

CLASS = """class Model{i}( object ):
    def __init__(self,name,weights = None):
        self.name=name
        self.weights = weights or [ 0.1,0.2,0.3 ]
    def predict(self,x):
        return sum( w*xi for w,xi in zip( self.weights,x ) )+{i}
    def describe(self): return 'Model{i}(%s)'%self.name"""

CALLS = """config_{i} = dict(learning_rate=0.01, batch_size={i}, epochs=10, optimizer='adam', loss='mse', metrics=['mae','mse'])
frame_{i} = load_frame( 'data/part_{i}.csv', columns = ['a','b','c'], dtype={{'a':int,'b':float}}, parse_dates=True )
values_{i}=[transform_{i}( row, factor={i} ) for row in frame_{i} if row is not None and len(row)>0]
summary_{i} = {{ k:v for k,v in zip( ['min','max','mean'],[min(values_{i}),max(values_{i}),sum(values_{i})/len(values_{i})] ) }}"""  # noqa: E501

PIPELINE = """def pipeline_{i}(items):
    out=[]
    for n,item in enumerate( items ):
        if item is None : continue
        try:
            out.append( (n,item['value']*{i}) )
        except (KeyError,TypeError) as e:
            print('skip',n,e)
    return out"""


def make_cell(i: int) -> str:
    """A messy cell of about 25 lines; every cell differs (names carry the index)."""
    parts: list[str] = []
    if i % 10 == 0:
        parts.append("%matplotlib inline")
    if i % 4 == 0:
        parts.append(IMPORTS)
    if i % 7 == 3:
        parts.append(f"!echo cell {i}")
    parts.append(FUNCTION.format(i=i))
    if i % 2 == 0:
        parts.append(CLASS.format(i=i))
    if i % 5 != 4:
        parts.append(PIPELINE.format(i=i))
    parts.append(CALLS.format(i=i))
    if i % 3 == 0:
        parts.append(f"display( summary_{i} );")
    source = "\n".join(parts)
    if i % 25 == 5:
        source = "%%time\n" + source
    return source


def make_notebook(cells: int) -> list[str]:
    return [make_cell(i) for i in range(cells)]


# ---------------------------------------------------------------------------------------------
# serial baselines (this process)


def serial_black_isort(sources: list[str], fast: bool) -> float:
    """isort then black per cell, as a plain formatter does: isort.code, black.format_cell."""
    import black
    import isort

    mode = black.Mode()
    start = time.perf_counter()
    for source in sources:
        try:
            sorted_source = isort.code(source, profile="black")
        except Exception:
            sorted_source = source
        with contextlib.suppress(Exception):  # NothingChanged, parse errors
            black.format_cell(sorted_source, fast=fast, mode=mode)
    return time.perf_counter() - start


def serial_ours(sources: list[str]) -> float:
    """Our cell formatter (masking, isort, black, AST check) per cell, in this process."""
    from jupyter_sidecar_ext.lint.format import FormatSpec, format_cell

    spec = FormatSpec(isort=(("profile", "black"),))
    start = time.perf_counter()
    for source in sources:
        format_cell(source, spec)
    return time.perf_counter() - start


# ---------------------------------------------------------------------------------------------
# the server


class LintServer:
    """The shared `Server` (dirs, config, command, environment), run without an event loop:
    the lint requests are timed as plain blocking calls on one keep-alive connection."""

    def __init__(self, base: Path, extra: list[str], users: bool = False) -> None:
        if users:  # requests name their user in X-Bench-User (the token still authenticates)
            (base / "bench_users.py").write_text(BENCH_USERS)
            extra = [*extra, "--ServerApp.identity_provider_class=bench_users.BenchUsers"]
        self._start(Server(base, extra_args=extra), base if users else None)

    def _start(self, server: Server, modules: Path | None) -> None:
        """Start `server`, with `modules` (a dir of benchmark-only modules) on its path."""
        self.server = server
        self.port = self.server.port
        self.token = self.server.token
        self.log_path = self.server.log_path
        self.command = self.server.command()
        self.server.prepare()
        env = self.server.env()
        # absolute: the server runs in its root dir, where `PYTHONPATH=.` would mean nothing
        paths = [str(modules or ""), *env.get("PYTHONPATH", "").split(os.pathsep)]
        env["PYTHONPATH"] = os.pathsep.join(os.path.abspath(p) for p in paths if p)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                env=env,
                cwd=self.server.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        headers = {"Authorization": f"token {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        return response.status, response.read()

    def lint_as(self, user: str, cells: list[dict[str, str]]) -> tuple[float, int, Any]:
        """One lint request on its own connection, as `user`: (seconds, status, answer)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=900)
        headers = {
            "Authorization": f"token {self.token}",
            "Content-Type": "application/json",
            "X-Bench-User": user,
        }
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/sidecar/lint", json.dumps({"cells": cells}), headers)
            response = conn.getresponse()
            body = response.read()
            return time.perf_counter() - start, response.status, json.loads(body)
        finally:
            conn.close()

    def wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited:\n{self.log_path.read_text()[-3000:]}")
            try:
                status, body = self.request("GET", "/api/sidecar")
                if status == 200 and "lint" in json.loads(body)["features"]:
                    return
            except (OSError, http.client.HTTPException):
                self.conn.close()
            time.sleep(0.2)
        raise RuntimeError(f"server not ready in {timeout} s")

    def lint(self, cells: list[dict[str, str]]) -> tuple[float, list[dict[str, Any]]]:
        start = time.perf_counter()
        status, body = self.request(
            "POST", "/api/sidecar/lint", json.dumps({"cells": cells}).encode()
        )
        result = json.loads(body)
        elapsed = time.perf_counter() - start
        if status != 200:
            raise RuntimeError(f"lint answered {status}: {body[:500]!r}")
        return elapsed, result["cells"]

    def stop(self) -> None:
        self.conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(15)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)


def pinger(port: int, token: str, stop: Any, results: Connection) -> None:
    """In its own process: GET /api/status every 5 ms; send (sent_at, seconds) pairs back."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"token {token}"}
    samples: list[tuple[float, float]] = []
    next_at = time.monotonic()
    while not stop.is_set():
        sent = time.monotonic()
        conn.request("GET", "/api/status", headers=headers)
        conn.getresponse().read()
        samples.append((sent, time.monotonic() - sent))
        next_at = max(next_at + PING_INTERVAL, time.monotonic())
        time.sleep(max(0.0, next_at - time.monotonic()))
    results.send(samples)
    conn.close()


class Pings:
    """A pinger process around a block of work; the longest ping inside a window."""

    def __init__(self, server: LintServer) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop = context.Event()
        self.receive, send = context.Pipe(duplex=False)
        self.process = context.Process(
            target=pinger, args=(server.port, server.token, self.stop, send), daemon=True
        )
        self.samples: list[tuple[float, float]] = []

    def __enter__(self) -> Pings:
        self.process.start()
        time.sleep(0.5)  # let it connect and settle
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.samples = self.receive.recv()
        self.process.join(10)

    def during(self, start: float, end: float) -> list[float]:
        """Round trips of pings in flight at some point between start and end."""
        return [rtt for sent, rtt in self.samples if sent <= end and sent + rtt >= start]


BENCH_USERS = """
from jupyter_server.auth.identity import IdentityProvider, User


class BenchUsers(IdentityProvider):
    async def get_user(self, handler):
        user = super().get_user(handler)
        if hasattr(user, "__await__"):
            user = await user
        name = handler.request.headers.get("X-Bench-User")
        return User(username=name) if user is not None and name else user
"""


# ---------------------------------------------------------------------------------------------
# overload (issue 18): many large requests from one user, one small request from another


def overload(server: LintServer, sources: list[str], requests: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    heavy = [
        [{"id": f"r{r}c{i}", "source": f"# request {r}\n{s}"} for i, s in enumerate(sources)]
        for r in range(requests)
    ]
    light = [{"id": "light", "source": "light_value=compute( 1,'x' , [1,2,3] )"}]
    counts = {"ok": 0, "failed": 0, "timed out": 0, "cancelled": 0}
    statuses: dict[int, int] = {}
    start = time.perf_counter()
    with ThreadPoolExecutor(requests + 1) as threads:
        futures = [threads.submit(server.lint_as, "heavy", cells) for cells in heavy]
        time.sleep(1.0)  # a benchmark, not a test: let the heavy requests arrive first
        light_seconds, light_status, light_answer = server.lint_as("light", light)
        light_done = time.perf_counter() - start
        for future in futures:
            _, status, answer = future.result()
            statuses[status] = statuses.get(status, 0) + 1
            for cell in answer.get("cells", []) if status == 200 else []:
                error = cell.get("error")
                if error is None:
                    counts["ok"] += 1
                elif "timed out" in error:
                    counts["timed out"] += 1
                elif error.startswith("cancelled"):
                    counts["cancelled"] += 1
                else:
                    counts["failed"] += 1
    total = time.perf_counter() - start
    light_error = (light_answer.get("cells") or [{}])[0].get("error")
    print(
        f"overload: {requests} requests x {len(sources)} cells from 'heavy', then 1 cell from "
        f"'light'"
    )
    print(
        f"  light request: {light_seconds * 1000:.0f} ms (status {light_status}, error "
        f"{light_error!r}), answered {light_done:.1f} s after the burst began"
    )
    print(f"  heavy answers by status: {dict(sorted(statuses.items()))}")
    print(f"  heavy cells: {counts}")
    print(f"  whole burst: {total:.1f} s")


# ---------------------------------------------------------------------------------------------


@dataclass
class Round:
    """One interleaved round: the serial baselines, then the server, cold and warm."""

    safe: float
    fast: float
    ours_serial: float
    cold: float
    warm: list[float]
    window: tuple[float, float]
    server_cpu: float  # CPU seconds of the server process (all threads) during the cold lint
    loop_wait: float  # seconds its main thread waited for a CPU (runnable, not running)
    stall: float = 0.0
    pings: list[float] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return self.cold / self.safe


def warm_up(server: LintServer) -> None:
    """Start the workers (an empty request does) and wait until they answer quickly."""
    server.lint([])
    for attempt in range(300):
        elapsed, _ = server.lint([{"id": "w", "source": f"warm_{attempt} = 1"}])
        if elapsed < 0.05:
            return
        time.sleep(0.1)


def run_round(
    number: int, sources: list[str], server: LintServer, pings: Pings, warm: int
) -> Round:
    safe = serial_black_isort(sources, fast=False)
    fast = serial_black_isort(sources, fast=True)
    ours = serial_ours(sources)
    # A first line unique to the round: every cell is new to the server's cache.
    cells = [{"id": f"c{i}", "source": f"# round {number}\n{s}"} for i, s in enumerate(sources)]
    time.sleep(0.3)
    cpu_before, wait_before = cpu_seconds(server.proc.pid), runqueue_wait(server.proc.pid)
    start = time.monotonic()
    cold, result = server.lint(cells)
    end = time.monotonic()
    cpu = cpu_seconds(server.proc.pid) - cpu_before
    wait = runqueue_wait(server.proc.pid) - wait_before
    errors = [cell for cell in result if "error" in cell]
    if errors:
        print(f"  cell errors: {errors[:3]}")
    warms = [server.lint(cells)[0] for _ in range(warm)]
    time.sleep(0.2)  # let the last pings of the window come back
    return Round(safe, fast, ours, cold, warms, (start, end), cpu, wait)


def report(rounds: list[Round], idle: list[float]) -> bool:
    med = statistics.median
    for n, r in enumerate(rounds):
        print(
            f"  round {n}: serial safe {r.safe:.2f} s, --fast {r.fast:.2f} s, ours in process "
            f"{r.ours_serial:.2f} s | server cold {r.cold:.2f} s ({r.ratio:.2f}x safe), warm "
            f"median {med(r.warm) * 1000:.1f} ms | longest ping {r.stall * 1000:.1f} ms "
            f"(p99 {percentile(r.pings, 99) * 1000:.1f} ms, {len(r.pings)} pings) | server "
            f"CPU {r.server_cpu * 1000:.0f} ms, loop thread waited {r.loop_wait * 1000:.0f} ms "
            f"for a CPU"
        )
    print(f"  idle server, 1 s of pings: longest {max(idle) * 1000:.1f} ms")
    safe, fast = med(r.safe for r in rounds), med(r.fast for r in rounds)
    cold, ratio = med(r.cold for r in rounds), med(r.ratio for r in rounds)
    warm = med(w for r in rounds for w in r.warm)
    stall = max(r.stall for r in rounds)
    checks = [
        (
            "cold lint through the server",
            f"{cold:.2f} s",
            f"{ratio:.2f}x serial (safe)",
            f"<= {TARGET_COLD_RATIO}x",
            ratio <= TARGET_COLD_RATIO,
        ),
        (
            "warm lint (all cached), median",
            f"{warm * 1000:.1f} ms",
            "",
            f"<= {TARGET_WARM_MS:g} ms",
            warm * 1000 <= TARGET_WARM_MS,
        ),
        (
            "longest ping during cold lints",
            f"{stall * 1000:.1f} ms",
            "",
            f"<= {TARGET_STALL_MS:g} ms",
            stall * 1000 <= TARGET_STALL_MS,
        ),
    ]
    print()
    print(f"{'metric (median of rounds)':34} {'value':>9}  {'ratio':24} {'target':9} ok")
    print(f"{'serial isort + black (safe)':34} {safe:>7.2f} s")
    versus_fast = f"{cold / fast:.2f}x (cold / --fast)"
    print(f"{'serial isort + black --fast':34} {fast:>7.2f} s  {versus_fast:24}")
    ours = med(r.ours_serial for r in rounds)
    print(f"{'our formatter, serial in process':34} {ours:>7.2f} s")
    for name, value, ratio_text, target, ok in checks:
        print(f"{name:34} {value:>9}  {ratio_text:24} {target:9} {'yes' if ok else 'NO'}")
    return all(ok for *_, ok in checks)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cells", type=int, default=200, help="cells in the notebook")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--warm", type=int, default=10, help="warm requests per round")
    parser.add_argument(
        "--workers", type=int, default=0, help="LintService.workers (0: the default)"
    )
    parser.add_argument(
        "--server-arg", action="append", default=[], help="extra server argument (repeatable)"
    )
    parser.add_argument(
        "--overload",
        type=int,
        default=0,
        metavar="N",
        help="run the overload scenario with N concurrent requests instead",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sources = make_notebook(args.cells)
    lines = sum(source.count("\n") + 1 for source in sources)
    print(
        f"machine: {os.cpu_count()} CPUs, {platform.machine()}, load average "
        f"{os.getloadavg()[0]:.2f}; Python {platform.python_version()}; "
        f"black {version('black')}, isort {version('isort')}"
    )
    print(f"notebook: {len(sources)} cells, {lines} lines, {sum(map(len, sources))} chars")
    serial_black_isort(sources[:10], fast=False)  # imports and caches warm
    serial_ours(sources[:10])
    extra = [f"--LintService.workers={args.workers}"] if args.workers else []
    if args.overload:
        with tempfile.TemporaryDirectory(prefix="lint-bench-") as tmp:
            server = LintServer(Path(tmp), extra + args.server_arg, users=True)
            try:
                server.wait_ready(60)
                warm_up(server)
                print("server:", " ".join(server.command).replace(server.token, "<token>"))
                overload(server, sources, args.overload)
            finally:
                server.stop()
        return 0
    with tempfile.TemporaryDirectory(prefix="lint-bench-") as tmp:
        server = LintServer(Path(tmp), extra + args.server_arg)
        try:
            server.wait_ready(60)
            warm_up(server)
            print("server:", " ".join(server.command).replace(server.token, "<token>"))
            with Pings(server) as pings:
                idle_window = (time.monotonic(), time.monotonic() + 1.0)
                time.sleep(1.0)
                rounds = [
                    run_round(n, sources, server, pings, args.warm) for n in range(args.rounds)
                ]
        finally:
            server.stop()
    for r in rounds:
        r.pings = pings.during(*r.window)
        r.stall = max(r.pings, default=0.0)
    ok = report(rounds, pings.during(*idle_window))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
