#!/usr/bin/env python
"""Code over plain HTTP: `POST /api/sidecar/kernels/{id}/execute` vs Kernel Gateway.

One run, both servers side by side (loopback, temporary Jupyter dirs, random tokens, one
ipykernel each), measured in interleaved rounds (the order rotates from round to round):

  kg-eval      `jupyter kernelgateway` in notebook-http mode (KernelGatewayApp.api =
               kernel_gateway.notebook_http, a one-kernel pool) serving a notebook whose cell
               `# POST /execute` evaluates the posted code and prints the result:
               `print(eval(json.loads(REQUEST)["body"]["code"]))`. The fair equivalent of
               "POST code, get the result": the code travels in the request, as with ours.
  kg-cell      the same gateway, cell `# POST /one_plus_one` whose source is `1+1` itself
               (the code is fixed in the notebook; KG answers the result's mime bundle).
  ours         jupyter_server + jupyter_sidecar_ext, `POST .../execute` body {"code": "1+1"},
               JSON answer {status, execution_count, outputs, msg_id}.
  ours-ndjson  the same request with `Accept: application/x-ndjson` (streamed messages).

Each request is timed from send to the whole answer received, with a new connection per
request (tornado's client has no keep-alive) and TCP_NODELAY, the same for all. Every answer
is checked (ours: status ok and text/plain "2"; KG: "2"). Rows: sequential requests (one at a
time: p50/p99 latency and requests/s) and, with --concurrency C, C clients at once against
the one kernel (requests/s; p50/p99 include the wait for the kernel).

Run from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/http_execute.py [--requests N] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shlex
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from common import KernelGateway, Server, machine_info, percentile, scratch_dir
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

CODE = "1+1"
EVAL_CELL = '# POST /execute\nimport json\nprint(eval(json.loads(REQUEST)["body"]["code"]))'
LITERAL_CELL = "# POST /one_plus_one\n1+1"

Request = Callable[[], Awaitable[None]]


class KernelGatewayHttp(KernelGateway):
    """A `jupyter kernelgateway` in notebook-http mode serving the benchmark notebook."""

    def __init__(self, base: Path) -> None:
        super().__init__(base / "kernel-gateway")
        self.notebook = self.dir / "api.ipynb"
        self.extra_args = [
            "--KernelGatewayApp.api=kernel_gateway.notebook_http",
            f"--KernelGatewayApp.seed_uri={self.notebook}",
            "--KernelGatewayApp.prespawn_count=1",
        ]

    async def start(
        self, timeout: float, probe: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        """Write the notebook, then start; ready once the pool's kernel answers a request."""
        self.dir.mkdir(parents=True)
        nb = nbformat.v4.new_notebook(
            metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
        )
        nb.cells = [nbformat.v4.new_code_cell(EVAL_CELL), nbformat.v4.new_code_cell(LITERAL_CELL)]
        nbformat.write(nb, self.notebook)
        print(f"kernel gateway: {shlex.join(self.command())}")
        await super().start(timeout, probe or (lambda: self.post("/one_plus_one", None, 2.0)))

    async def post(self, path: str, body: object, timeout: float) -> bytes:
        return await self.fetch(path, "POST", body, timeout)


def kg_request(gateway: KernelGatewayHttp, path: str, expected: bytes, timeout: float) -> Request:
    async def request() -> None:
        body = {"code": CODE} if path == "/execute" else None
        answer = await gateway.post(path, body, timeout)
        if answer.strip() != expected:
            raise AssertionError(f"kernel gateway {path} answered {answer[:200]!r}")

    return request


def ours_request(server: Server, kernel_id: str, stream: bool, timeout: float) -> Request:
    url = f"{server.base_url}/api/sidecar/kernels/{kernel_id}/execute"
    headers = {"Authorization": f"token {server.token}", "Content-Type": "application/json"}
    if stream:
        headers["Accept"] = "application/x-ndjson"
    client = AsyncHTTPClient()

    async def request() -> None:
        response = await client.fetch(
            HTTPRequest(
                url,
                method="POST",
                headers=headers,
                body=json.dumps({"code": CODE}),
                request_timeout=timeout,
                connect_timeout=timeout,
            )
        )
        text = response.body.decode()
        result = json.loads(text.strip().splitlines()[-1] if stream else text)
        # (IPython warns on stderr each time its output cache fills: that stream is ignored)
        outputs = result.get("outputs", [])
        plain = [o["data"].get("text/plain") for o in outputs if "data" in o]
        if result.get("status") != "ok" or plain != ["2"]:
            raise AssertionError(f"ours answered {text[-300:]!r}")

    return request


@dataclass
class Stats:
    """Per flavour, per mode: one list of latencies and one requests/s figure per round."""

    latencies: list[list[float]] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)

    def add(self, latencies: list[float], wall: float) -> None:
        self.latencies.append(latencies)
        self.rates.append(len(latencies) / wall)

    def median_of(self, q: float) -> float:
        return statistics.median(percentile(lat, q) for lat in self.latencies)


async def sequential(request: Request, count: int) -> tuple[list[float], float]:
    latencies = []
    start = time.perf_counter()
    for _ in range(count):
        t0 = time.perf_counter()
        await request()
        latencies.append(time.perf_counter() - t0)
    return latencies, time.perf_counter() - start


async def concurrent(request: Request, count: int, clients: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    remaining = [count]

    async def client() -> None:
        while remaining[0] > 0:
            remaining[0] -= 1
            t0 = time.perf_counter()
            await request()
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, time.perf_counter() - start


def print_table(
    names: Sequence[str], stats: dict[tuple[str, str], Stats], modes: Sequence[str]
) -> None:
    header = f"{'flavour':12} {'mode':14} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}  req/s per round"
    print(header)
    print("-" * len(header))
    for mode in modes:
        for name in names:
            s = stats[(name, mode)]
            rounds = " ".join(f"{r:.0f}" for r in s.rates)
            print(
                f"{name:12} {mode:14} {statistics.median(s.rates):8.1f} "
                f"{s.median_of(50) * 1000:8.2f} {s.median_of(99) * 1000:8.2f}  {rounds}"
            )
    print("ratios: median over rounds of each round's ours/kg (paired: robust to load drift)")
    for mode in modes:
        ours = stats[("ours", mode)]
        for kg in ("kg-eval", "kg-cell"):
            other = stats[(kg, mode)]
            rate = statistics.median(o / k for o, k in zip(ours.rates, other.rates, strict=True))
            p50 = statistics.median(
                percentile(o, 50) / percentile(k, 50)
                for o, k in zip(ours.latencies, other.latencies, strict=True)
            )
            verdict = "ok" if rate >= 1.0 and p50 <= 1.0 else "BELOW TARGET"
            print(
                f"ours/{kg} ({mode}): req/s x{rate:.2f}, p50 x{p50:.2f} "
                f"(target: req/s >= 1.00x, p50 <= 1.00x): {verdict}"
            )


async def run(args: argparse.Namespace, base: Path) -> int:
    print("== POST execute '1+1': jupyter_server + jupyter_sidecar_ext vs Kernel Gateway ==")
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    for line in machine_info():
        print(line)
    print(
        f"workload: {args.requests} sequential requests per flavour per round, "
        f"{args.rounds} rounds (order rotates), warm-up {args.warmup}"
        + (
            f", then {args.requests} requests by {args.concurrency} clients"
            if args.concurrency
            else ""
        )
    )
    gateway = KernelGatewayHttp(base)
    server = Server(base / "ours", name="ours")
    print(f"ours: {server.printable_command()}")
    try:
        await asyncio.gather(gateway.start(args.start_timeout), server.start(args.start_timeout))
        kernel = await server.api("POST", "/api/kernels", {"name": "python3"})
        kernel_id = kernel["id"]
        requests: dict[str, Request] = {
            "kg-eval": kg_request(gateway, "/execute", b"2", args.timeout),
            "kg-cell": kg_request(gateway, "/one_plus_one", b'{"text/plain": "2"}', args.timeout),
            "ours": ours_request(server, kernel_id, False, args.timeout),
            "ours-ndjson": ours_request(server, kernel_id, True, args.timeout),
        }
        names = list(requests)
        for request in requests.values():  # warm-up (the kernel's first runs, imports)
            await sequential(request, args.warmup)
        modes = ["sequential"] + ([f"concurrent x{args.concurrency}"] if args.concurrency else [])
        stats = {(name, mode): Stats() for name in names for mode in modes}
        for index in range(args.rounds):
            order = names[index % len(names) :] + names[: index % len(names)]
            for name in order:
                stats[(name, "sequential")].add(*await sequential(requests[name], args.requests))
                if args.concurrency:
                    measured = await concurrent(requests[name], args.requests, args.concurrency)
                    stats[(name, modes[1])].add(*measured)
            print(f"round {index + 1}/{args.rounds} done (order: {', '.join(order)})")
            sys.stdout.flush()
        print()
        print_table(names, stats, modes)
        return 0
    finally:
        await asyncio.gather(gateway.stop(), server.stop())


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=200, help="requests per round (200)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (3)")
    parser.add_argument("--warmup", type=int, default=20, help="warm-up requests (20)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=4,
        help="clients at once in the concurrent row (4; 0 off)",
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--start-timeout", type=float, default=90.0)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with scratch_dir("http-execute-bench-", args) as base:
        return asyncio.run(run(args, base))


if __name__ == "__main__":
    sys.exit(main())
