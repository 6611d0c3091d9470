"""Shared pieces for benchmarks: jupyter_server and Kernel Gateway subprocesses, kernel
websocket helpers and a v1 client that follows many executions at once, percentiles, CPU and
RSS readers, a machine summary and the scratch dir.

Everything listens on 127.0.0.1 only and every wait is bounded. Import from a script run
as `PYTHONPATH=. .venv/bin/python benchmarks/<script>.py` (the scripts' directory is on
sys.path, so `from common import ...` works).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from jupyter_client.session import Session
from jupyter_server.services.kernels.connection.base import serialize_msg_to_ws_v1
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

V1_SUBPROTOCOL = "v1.kernel.websocket.jupyter.org"
STOCK_CLASS = "jupyter_server.services.kernels.connection.channels.ZMQChannelsWebsocketConnection"
OURS_CLASS = "jupyter_sidecar_ext.tap.local.SidecarKernelConnection"
EXTENSION = "jupyter_sidecar_ext"

# Config on the parent class applies to subclasses (traitlets walks the MRO), so this turns
# the iopub rate limits off for stock and ours alike: the same messages flow through both.
RATE_LIMITS_OFF: dict[str, dict[str, Any]] = {
    "ZMQChannelsWebsocketConnection": {"iopub_msg_rate_limit": 0, "iopub_data_rate_limit": 0},
}


# -- numbers ----------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident set size of one process (VmRSS), in KiB; 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads, children excluded), in seconds."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2 :].split()  # the name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def cpu_ns(pid: int) -> int:
    """Nanoseconds on a CPU of all the process's threads (schedstat: finer than the 10 ms
    ticks of /proc/PID/stat, for small per-request differences); 0 once it is gone."""
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, IndexError, ValueError):
                total += int((task / "schedstat").read_text().split()[0])
    return total


def child_pids(pid: int) -> list[int]:
    """The process's direct children (e.g. a server's kernels)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.extend(int(child) for child in (task / "children").read_text().split())
    return found


def runqueue_wait(pid: int) -> float:
    """Seconds the process's main thread (the event loop) has spent runnable but waiting
    for a CPU: tells a busy machine from a loop blocked by its own work."""
    try:
        fields = Path(f"/proc/{pid}/task/{pid}/schedstat").read_text().split()
    except OSError:
        return 0.0
    return int(fields[1]) / 1e9


def malloc_trim(pid: int) -> bool:
    """Ask glibc in a process to give its free memory back to the OS (gdb attaches, calls
    `malloc_trim(0)`, detaches). RSS before and after tells memory still in use from memory
    the allocator merely kept. False when gdb is missing or may not attach."""
    gdb = shutil.which("gdb")
    if gdb is None:
        return False
    try:
        done = subprocess.run(
            [gdb, "-p", str(pid), "-batch", "-ex", "call (int) malloc_trim(0)"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "$1 = " in done.stdout


@dataclass
class RssSampler:
    """Samples a process's RSS every `interval` seconds in the background."""

    pid: int
    interval: float = 0.1
    samples: list[tuple[float, int]] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            self.samples.append((time.monotonic(), rss_kib(self.pid)))
            await asyncio.sleep(self.interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def peak(self, since: float = 0.0) -> int:
        return max((kib for at, kib in self.samples if at >= since), default=0)


def machine_info() -> list[str]:
    """Where the figures come from: CPUs, load, Python and package versions."""

    def ver(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "-"

    model = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    packages = ("jupyter_server", "jupyter_client", "ipykernel", "tornado", "pyzmq")
    return [
        f"nproc: {len(os.sched_getaffinity(0))} (cpu_count {os.cpu_count()}), {model}",
        f"loadavg at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"python: {platform.python_version()} ({sys.executable})",
        f"platform: {platform.platform()}",
        "versions: " + ", ".join(f"{p} {ver(p)}" for p in packages),
    ]


def start_spinner() -> subprocess.Popen[bytes]:
    """A busy loop at the lowest priority: it takes only CPU time nobody else wants, and no
    core of the machine goes idle meanwhile (an idle virtual CPU wakes slowly)."""
    loop = [sys.executable, "-c", "while True: pass"]
    return subprocess.Popen(["nice", "-n", "19", *loop])


def stop_spinner(spinner: subprocess.Popen[bytes] | None) -> None:
    """End a start_spinner() loop, if one runs."""
    if spinner is not None:
        spinner.kill()
        spinner.wait()


def print_header(title: str) -> None:
    """A run's first lines: what it measures, the command that ran it, and the machine."""
    print(f"== {title} ==")
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    for line in machine_info():
        print(line)


def run_bounded(
    prefix: str, args: argparse.Namespace, run: Callable[[argparse.Namespace, Path], Awaitable[int]]
) -> int:
    """Run a benchmark in a scratch dir within `args.max_seconds`: its exit code, or 2
    (with the reason printed) when a wait ran out or it failed."""
    with scratch_dir(prefix, args) as base:
        try:
            return asyncio.run(asyncio.wait_for(run(args, base), args.max_seconds))
        except (asyncio.TimeoutError, TimeoutError) as err:
            print(f"\nABORTED: {err!r} (a wait or --max-seconds {args.max_seconds} ran out)")
            return 2
        except Exception as err:
            print(f"\nABORTED: {err!r}")
            return 2


@contextlib.contextmanager
def scratch_dir(prefix: str, args: argparse.Namespace | None = None) -> Iterator[Path]:
    """A temporary dir for the servers' dirs and logs, removed at the end unless `args.keep`
    is set by then (a script may set it on a failure, to keep the logs)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        if getattr(args, "keep", False):
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


# -- processes ----------------------------------------------------------------------------------


def isolated_env(base: Path) -> dict[str, str]:
    """This environment with Jupyter's config, runtime and data dirs and IPython's under
    `base`: nothing the machine installed for the user leaks in."""
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(base / "config"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        JUPYTER_DATA_DIR=str(base / "data"),
        IPYTHONDIR=str(base / "ipython"),
        PYTHONUNBUFFERED="1",
    )
    env.pop("JUPYTER_NO_CONFIG", None)  # the temporary config must be read
    return env


async def spawn(
    command: Sequence[str], env: dict[str, str], cwd: Path, log_path: Path
) -> asyncio.subprocess.Process:
    """Start a process with its output in a log file, in its own session: its kernels can be
    cleaned up with it."""
    with log_path.open("wb") as log:
        return await asyncio.create_subprocess_exec(
            *command,
            env=env,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )


async def wait_ready(
    proc: asyncio.subprocess.Process,
    probe: Callable[[], Awaitable[object]],
    timeout: float,
    what: str,
    log_tail: Callable[[], str],
) -> None:
    """Until `probe` succeeds; raises with the log's tail when the process exits first or
    `timeout` runs out."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"{what} exited\n{log_tail()}")
        with contextlib.suppress(OSError, HTTPClientError, asyncio.TimeoutError):
            await probe()
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready in {timeout}s\n{log_tail()}")
        await asyncio.sleep(0.2)  # polling a starting process: nothing to wait on


async def stop_process(proc: asyncio.subprocess.Process | None, timeout: float = 20.0) -> None:
    """SIGTERM (a server shuts its kernels down), then SIGKILL for whatever is left of the
    process group it started."""
    if proc is None:
        return
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(proc.wait(), timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(proc.wait(), 5)


def read_tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# -- server -----------------------------------------------------------------------------------


class LoopbackProcess:
    """What a server subprocess of ours has whatever it runs: its own dir and log, a free
    loopback port, a random token, extra command line arguments, and a bounded stop."""

    def __init__(self, base: Path, extra_args: Sequence[str], log_name: str) -> None:
        self.dir = base
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = base / log_name
        self.extra_args = list(extra_args)
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        return read_tail(self.log_path, lines)

    async def stop(self, timeout: float = 20.0) -> None:
        await stop_process(self.proc, timeout)


class Server(LoopbackProcess):
    """A jupyter_server subprocess, in its own temporary config, runtime, data and root dirs,
    token auth, on a free loopback port. Whether the extension loads and the kernel websocket
    connection class (by default ours with it, stock without) are written explicitly into the
    temporary config, which has the highest priority: the installed config may set either."""

    def __init__(
        self,
        base: Path,
        config: dict[str, Any] | None = None,
        extra_args: Sequence[str] = (),
        extension: bool = True,
        name: str = "",
        connection_class: str | None = None,
    ) -> None:
        super().__init__(base, extra_args, "server.log")
        self.name = name
        self.extension = extension
        self.root = base / "root"
        self.config_dir = base / "config"
        self._http: AsyncHTTPClient | None = None
        self.config: dict[str, Any] = {
            "ServerApp": {"jpserver_extensions": {EXTENSION: extension}},
        }
        self.config["ServerApp"]["kernel_websocket_connection_class"] = connection_class or (
            OURS_CLASS if extension else STOCK_CLASS
        )
        for section, values in (config or {}).items():
            self.config.setdefault(section, {}).update(values)

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--port-retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            *self.extra_args,
        ]

    def printable_command(self) -> str:
        return shlex.join(
            "--IdentityProvider.token=<random>" if "token=" in a else a for a in self.command()
        )

    def env(self) -> dict[str, str]:
        return isolated_env(self.dir)

    def prepare(self) -> None:
        """Create the dirs and write the config: what start() does before it spawns."""
        for path in (self.root, self.config_dir, self.dir / "runtime", self.dir / "data"):
            path.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "jupyter_server_config.json").write_text(json.dumps(self.config))

    async def start(self, timeout: float = 60.0) -> None:
        self.prepare()
        self.proc = await spawn(self.command(), self.env(), self.root, self.log_path)
        what = f"{self.name} server" if self.name else "server"
        await wait_ready(
            self.proc,
            lambda: self.api("GET", "/api/status", timeout=2.0),
            timeout,
            what,
            self.log_tail,
        )

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def runqueue_wait(self) -> float:
        return runqueue_wait(self.pid)

    async def api(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        if self._http is None:
            self._http = AsyncHTTPClient()  # made in the loop that uses it
        request = HTTPRequest(
            self.base_url + path,
            method=method,
            headers={"Authorization": f"token {self.token}"},
            body=None if body is None else json.dumps(body),
            request_timeout=timeout,
            connect_timeout=timeout,
            allow_nonstandard_methods=True,
        )
        response = await self._http.fetch(request)
        return json.loads(response.body) if response.body else None

    async def status_of(self, path: str) -> int:
        """The HTTP status of a GET (200 or the error's): e.g. whether the extension loaded."""
        try:
            await self.api("GET", path, timeout=10.0)
            return 200
        except HTTPClientError as err:
            return err.code

    def log_problems(self, benign: Sequence[str] = ()) -> list[str]:
        """Warning, error, traceback and rate-limit lines of the server log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return []
        keys = ("[E ", "[C ", "[W ", "Traceback", "Exception", "rate exceeded")
        return [
            line
            for line in text.splitlines()
            if any(k in line for k in keys) and not any(b in line for b in benign)
        ]


class KernelGateway(LoopbackProcess):
    """A `jupyter kernelgateway` subprocess: loopback, a free port, a random token, its own
    temporary Jupyter dirs; `extra_args` choose its mode."""

    def __init__(self, base: Path, extra_args: Sequence[str] = ()) -> None:
        super().__init__(base, extra_args, "gateway.log")

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "kernel_gateway",
            "--KernelGatewayApp.ip=127.0.0.1",
            f"--KernelGatewayApp.port={self.port}",
            "--KernelGatewayApp.port_retries=0",
            *self.extra_args,
        ]

    async def start(
        self, timeout: float, probe: Callable[[], Awaitable[object]] | None = None
    ) -> None:
        """Start it; ready once `probe` succeeds (by default GET /api answers)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        env = {**isolated_env(self.dir), "KG_AUTH_TOKEN": self.token}
        self.proc = await spawn(self.command(), env, self.dir, self.log_path)
        await wait_ready(
            self.proc,
            probe or (lambda: self.fetch("/api", timeout=2.0)),
            timeout,
            "gateway",
            self.log_tail,
        )

    async def fetch(
        self, path: str, method: str = "GET", body: object = None, timeout: float = 30.0
    ) -> bytes:
        """One request with the token; a POST sends `body` as JSON (none: an empty body)."""
        headers = {"Authorization": f"token {self.token}"}
        payload = None
        if method != "GET":
            headers["Content-Type"] = "application/json"
            payload = "" if body is None else json.dumps(body)
        request = HTTPRequest(
            self.base_url + path,
            method=method,
            headers=headers,
            body=payload,
            request_timeout=timeout,
            connect_timeout=timeout,
        )
        response = await AsyncHTTPClient().fetch(request)
        return bytes(response.body)


# -- kernel websocket client --------------------------------------------------------------------


def execute_content(code: str, **options: Any) -> dict[str, Any]:
    """An execute_request's content as JupyterLab sends it; `options` override fields."""
    return {
        "code": code,
        "silent": False,
        "store_history": True,
        "user_expressions": {},
        "allow_stdin": False,
        "stop_on_error": True,
        **options,
    }


def lab_metadata(cell_id: str | None = None) -> dict[str, Any]:
    """The metadata JupyterLab sends with every execute_request (a new cellId by default)."""
    return {"cellId": cell_id or str(uuid.uuid4()), "deletedCells": [], "recordTiming": False}


async def connect_kernel(
    server: Server,
    kernel_id: str,
    session_id: str,
    timeout: float = 30.0,
    v1: bool = True,
    nodelay: bool = True,
) -> WebSocketClientConnection:
    """A kernel websocket opened as JupyterLab opens it: the token in the Authorization
    header, session_id in the query, the v1 subprotocol offered (v1=False: the legacy JSON
    protocol) and TCP_NODELAY set, as browsers do."""
    url = f"ws://127.0.0.1:{server.port}/api/kernels/{kernel_id}/channels?session_id={session_id}"
    request = HTTPRequest(
        url,
        headers={"Authorization": f"token {server.token}"},
        connect_timeout=timeout,
        request_timeout=timeout,
    )
    conn = await asyncio.wait_for(
        websocket_connect(
            request, subprotocols=[V1_SUBPROTOCOL] if v1 else None, max_message_size=1 << 28
        ),
        timeout,
    )
    if v1 and conn.selected_subprotocol != V1_SUBPROTOCOL:
        raise RuntimeError(f"server selected subprotocol {conn.selected_subprotocol!r}")
    if nodelay:
        conn.protocol.set_nodelay(True)  # type: ignore[union-attr]
    return conn


def split_v1(frame: bytes) -> tuple[bytes, list[bytes]]:
    """(channel, parts) of a v1 frame from the server (trusted: no checks)."""
    count = int.from_bytes(frame[:8], "little")
    offsets = [int.from_bytes(frame[8 * (i + 1) : 8 * (i + 2)], "little") for i in range(count)]
    parts = [frame[offsets[i] : offsets[i + 1]] for i in range(1, count - 1)]
    return frame[offsets[0] : offsets[1]], parts


@dataclass
class Execution:
    """What one websocket client saw of one execute_request."""

    msg_id: str
    sent_at: float
    stdout: list[str] = field(default_factory=list)
    stream_messages: int = 0
    reply_status: str | None = None
    reply: dict[str, Any] = field(default_factory=dict)  # the execute_reply's content
    idle: bool = False
    last_seen: float = 0.0  # perf_counter of its latest message at this client
    done: asyncio.Future[float] = field(default_factory=asyncio.Future)

    @property
    def text(self) -> str:
        return "".join(self.stdout)

    def give_up(self) -> None:
        """End it without its idle (lost on the way): done at its last message."""
        if not self.done.done():
            self.done.set_result(max(self.last_seen, self.sent_at) - self.sent_at)


class KernelSocket:
    """A v1 kernel websocket as JupyterLab opens it. A background reader dispatches every
    message to the executions it follows (by parent msg_id); any number of executions, and
    of clients per kernel, can be followed at once. Only the parts needed are decoded."""

    def __init__(self, conn: WebSocketClientConnection, session: Session, name: str) -> None:
        self.conn = conn
        self.session = session
        self.name = name
        self.following: dict[str, Execution] = {}
        self.frames = 0
        self.iopub_msgs = 0  # all iopub traffic, whoever it is for
        self.iopub_bytes = 0
        self.closed = asyncio.get_running_loop().create_future()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def open(
        cls, server: Server, kernel_id: str, name: str = "", timeout: float = 30.0
    ) -> KernelSocket:
        session = Session(key=b"", username="benchmark")  # the server signs for the kernel
        conn = await connect_kernel(server, kernel_id, session.session, timeout)
        return cls(conn, session, name or kernel_id[:8])

    def follow(self, msg_id: str) -> Execution:
        """Collect what this client receives for a request sent by any client."""
        execution = Execution(msg_id, time.perf_counter())
        self.following[msg_id] = execution
        return execution

    async def execute(self, code: str, cell_id: str | None = None, **options: Any) -> Execution:
        """Send an execute_request with JupyterLab's metadata; returns what is followed.
        `options` override content fields (silent, store_history, user_expressions...)."""
        msg_id, frame = self.execute_request(code, cell_id, **options)
        execution = self.follow(msg_id)
        await self.send(frame)
        return execution

    async def send(self, frame: bytes) -> None:
        await self.conn.write_message(frame, binary=True)

    def execute_request(
        self, code: str, cell_id: str | None = None, **options: Any
    ) -> tuple[str, bytes]:
        """(msg_id, frame) of an execute_request as JupyterLab sends it (cellId and all), so
        that other clients can follow it before it is sent."""
        msg = self.session.msg(
            "execute_request",
            content=execute_content(code, **options),
            metadata=lab_metadata(cell_id),
        )
        frame: bytes = serialize_msg_to_ws_v1(msg, "shell", self.session.pack)
        return str(msg["header"]["msg_id"]), frame

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.conn.read_message()
                if frame is None:
                    break
                if isinstance(frame, bytes):
                    self.frames += 1
                    self._dispatch(frame)
        finally:
            for execution in self.following.values():
                if not execution.done.done():
                    execution.done.set_exception(ConnectionError(f"{self.name}: socket closed"))
            if not self.closed.done():
                self.closed.set_result(None)

    def _dispatch(self, frame: bytes) -> None:
        channel, parts = split_v1(frame)
        if channel == b"iopub":
            self.iopub_msgs += 1
            self.iopub_bytes += len(frame)
        parent = parts[1]
        if len(parent) < 3:
            return  # no parent (e.g. a starting kernel's status)
        msg_id = json.loads(parent).get("msg_id")
        execution = self.following.get(msg_id)
        if execution is None:
            return
        msg_type = json.loads(parts[0]).get("msg_type")
        execution.last_seen = time.perf_counter()
        if channel == b"iopub":
            if msg_type == "stream":
                content = json.loads(parts[3])
                if content.get("name") == "stdout":
                    execution.stdout.append(content.get("text", ""))
                    execution.stream_messages += 1
            elif msg_type == "status" and b'"idle"' in parts[3]:
                execution.idle = True
        elif channel == b"shell" and msg_type == "execute_reply":
            execution.reply = json.loads(parts[3])
            execution.reply_status = str(execution.reply.get("status"))
        if execution.idle and (execution.reply_status is not None or not self._sent(msg_id)):
            del self.following[msg_id]
            if not execution.done.done():
                execution.done.set_result(time.perf_counter() - execution.sent_at)

    def _sent(self, msg_id: str) -> bool:
        """Whether this client sent the request (only the sender gets the reply)."""
        return msg_id.startswith(self.session.session)

    async def close(self) -> None:
        self.conn.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.closed), 5)
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
