#!/usr/bin/env python
"""A flushing kernel alone: N flushed lines read straight from its iopub socket, no server.

Tells the kernel's own speed apart from a server's (issue 20's flushed-cell row in
kernel_traffic.py): one ipykernel per `--hwm` value, each launched as this extension launches
kernels (`tuned_command`: iopub send high-water mark HWM, 0 meaning ZMQ's default), the same
cell as kernel_traffic.py's (c), interleaved runs whose order alternates, and a SUB socket
that decodes only the headers it needs (the reader is never the slow side). `--spinner`
keeps a busy loop at nice 19 running meanwhile, so no core of the machine sits idle. Run
from the repository root:

    PYTHONPATH=. .venv/bin/python benchmarks/kernel_alone.py [--hwm 1000 --hwm 100000]
        [--runs 5] [--messages 10000] [--spinner]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

import zmq
from common import print_header, start_spinner, stop_spinner
from jupyter_client import BlockingKernelClient, KernelManager
from kernel_traffic import messages_code

from jupyter_sidecar_ext.tuning.kernel_launch import tuned_command

DELIMITER = b"<IDS|MSG>"


class LoneKernel:
    """One kernel, its shell client and a raw iopub subscription."""

    def __init__(self, hwm: int, timeout: float) -> None:
        self.hwm = hwm
        self.timeout = timeout
        self.manager = KernelManager(kernel_name="python3")
        spec = self.manager.kernel_spec
        assert spec is not None
        spec.argv = tuned_command(list(spec.argv), hwm or None)
        self.manager.start_kernel()
        self.client: BlockingKernelClient = self.manager.client()
        self.client.start_channels(iopub=False, stdin=False, hb=False)
        self.client.wait_for_ready(timeout=timeout)
        info = self.manager.get_connection_info()
        self.sub: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.SUB)
        self.sub.setsockopt(zmq.RCVHWM, 0)
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")
        self.sub.rcvtimeo = int(timeout * 1000)
        self.sub.connect(f"{info['transport']}://{info['ip']}:{info['iopub_port']}")
        self._until_subscribed()

    def _until_subscribed(self) -> None:
        """Ask for kernel_info until its busy/idle arrives: the subscription is live."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg_id = self.client.kernel_info()
            self.client.get_shell_msg(timeout=self.timeout)
            self.sub.rcvtimeo = 500
            try:
                while True:
                    parent, _, _ = self._next()
                    if parent == msg_id:
                        self.sub.rcvtimeo = int(self.timeout * 1000)
                        self._drain()
                        return
            except zmq.Again:
                continue
        raise TimeoutError("the kernel's iopub never answered")

    def _drain(self) -> None:
        while self.sub.poll(200):
            self.sub.recv_multipart()

    def _next(self) -> tuple[str | None, str, list[bytes]]:
        """The next iopub message: its parent msg_id, its type, its frames after the
        delimiter (signature, header, parent, metadata, content, ...)."""
        frames = self.sub.recv_multipart()
        rest = frames[frames.index(DELIMITER) + 1 :]
        header: dict[str, Any] = json.loads(rest[1])
        parent: dict[str, Any] = json.loads(rest[2])
        return parent.get("msg_id"), header["msg_type"], rest

    def run(self, code: str) -> tuple[float, int]:
        """Seconds from send to idle, and the stdout lines that arrived."""
        started = time.perf_counter()
        msg_id = self.client.execute(code)
        lines = 0
        while True:
            parent, msg_type, rest = self._next()
            if parent != msg_id:
                continue
            if msg_type == "stream":
                lines += json.loads(rest[4])["text"].count("\n")
            elif msg_type == "status" and json.loads(rest[4])["execution_state"] == "idle":
                break
        elapsed = time.perf_counter() - started
        self.client.get_shell_msg(timeout=self.timeout)
        return elapsed, lines

    def close(self) -> None:
        self.sub.close(linger=0)
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--hwm",
        type=int,
        action="append",
        help="iopub send high-water mark of a kernel (repeatable; default 1000 and 100000; "
        "0: ZMQ's default through the plain launch)",
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per kernel (5)")
    parser.add_argument("--messages", type=int, default=10_000, help="flushed lines (10000)")
    parser.add_argument("--spinner", action="store_true", help="a nice 19 busy loop meanwhile")
    parser.add_argument("--timeout", type=float, default=120.0, help="per wait (s)")
    args = parser.parse_args(argv)
    marks = args.hwm or [1000, 100_000]
    if args.runs < 1 or args.messages < 1 or min(marks) < 0:
        parser.error("counts must be positive")
    print_header("a flushing kernel alone: flushed lines read from its iopub socket")
    print(
        f"workload: {args.messages} flushed lines x {args.runs} runs per kernel, kernels at HWM "
        f"{', '.join(map(str, marks))}; {'a nice 19 spinner' if args.spinner else 'no spinner'}"
    )
    code = messages_code(args.messages)
    spinner = start_spinner() if args.spinner else None
    kernels: list[LoneKernel] = []
    try:
        for hwm in marks:
            kernels.append(LoneKernel(hwm, args.timeout))
        for kernel in kernels:  # warm-up
            kernel.run(messages_code(200))
        times: dict[int, list[float]] = {kernel.hwm: [] for kernel in kernels}
        for run in range(args.runs):
            for kernel in kernels if run % 2 == 0 else kernels[::-1]:
                elapsed, lines = kernel.run(code)
                if lines != args.messages:
                    print(f"HWM {kernel.hwm}: {lines} of {args.messages} lines arrived")
                    return 1
                times[kernel.hwm].append(elapsed)
    finally:
        for kernel in kernels:
            kernel.close()
        stop_spinner(spinner)
    first = statistics.median(times[marks[0]])
    for hwm in marks:
        median = statistics.median(times[hwm])
        each = " ".join(f"{value:.2f}" for value in times[hwm])
        print(
            f"HWM {hwm}: median {median:.3f} s ({each}); ratio to HWM {marks[0]}: "
            f"{median / first:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
