"""A real `jupyter lab` subprocess for the browser tests, and the browser's settings."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SERVER_START_TIMEOUT = 90.0
SERVER_STOP_TIMEOUT = 30.0
PAGE_TIMEOUT_MS = 30_000
LOG_TAIL_CHARS = 6_000

# No news toast, no update check: nothing in the page that a test did not ask for.
NOTIFICATION_SETTINGS = {"fetchNews": "false", "checkForUpdates": False}
# No autosave: what is on disk is what a test wrote (closing a page never saves).
DOCMANAGER_SETTINGS = {"autosave": False}
DEFAULT_USER_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": NOTIFICATION_SETTINGS,
    "@jupyterlab/docmanager-extension:plugin": DOCMANAGER_SETTINGS,
}


# The real-time collaboration backends the browser tests know; they cannot be installed
# together (jupyter-server-documents needs jupyter-collaboration's front end < 4).
JUPYTER_COLLABORATION = "jupyter-collaboration"
SERVER_DOCUMENTS = "jupyter-server-documents"


def collaboration_backend() -> str | None:
    """Which real-time collaboration backend is in this venv (None: neither)."""
    if importlib.util.find_spec("jupyter_server_ydoc") is not None:
        return JUPYTER_COLLABORATION
    if importlib.util.find_spec("jupyter_server_documents") is not None:
        return SERVER_DOCUMENTS
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class LabServer:
    """A `jupyter lab` subprocess; `stop()`/`start()` keep its port, token and dirs.

    State kept by the server (sidecar store, workspaces, settings) lives in `base_dir`,
    so it survives `restart()`. Tests that stop the server must restart it (sc_page
    does `ensure_running()` before each page).
    """

    base_dir: Path
    port: int = field(default_factory=_free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    # More command-line options for `jupyter lab` (e.g. SidecarApp settings).
    extra_args: list[str] = field(default_factory=list)
    # Real-time collaboration (jupyter-collaboration or jupyter-server-documents, whichever
    # is installed): pages share one document per file. Off, an installed
    # jupyter-collaboration is turned off for the pages (disable_rtc).
    collaborative: bool = False
    process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    @property
    def collaboration(self) -> str | None:
        """The real-time collaboration backend the pages use (None: collaboration off)."""
        return collaboration_backend() if self.collaborative else None

    @property
    def url(self) -> str:
        """Base URL of the server, ending in `/`."""
        return f"http://127.0.0.1:{self.port}/"

    @property
    def root_dir(self) -> Path:
        return self.base_dir / "root"

    @property
    def config_dir(self) -> Path:
        return self.base_dir / "config"

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def runtime_dir(self) -> Path:
        return self.base_dir / "runtime"

    @property
    def workspaces_dir(self) -> Path:
        return self.base_dir / "workspaces"

    @property
    def user_settings_dir(self) -> Path:
        return self.base_dir / "settings"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "server.log"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def lab_url(self, path: str = "lab", **query: str) -> str:
        """URL of a JupyterLab page, logged in with the token.

        A test that needs a known layout opens a workspace of its own, e.g.
        `lab_url("lab/workspaces/mytest", reset="")`: the server and its workspaces
        directory are shared by the whole session.
        """
        params = urllib.parse.urlencode({**query, "token": self.token})
        return f"{self.url}{path.lstrip('/')}?{params}"

    def request(
        self, method: str, path: str, body: Any = None, timeout: float = 30.0
    ) -> tuple[int, Any]:
        """Call the server's REST API with the token; return (status, decoded JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path.lstrip("/"),
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        return status, json.loads(raw) if raw else None

    def log_tail(self) -> str:
        if not self.log_path.exists():
            return "(no server log)"
        return self.log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:]

    def _prepare_dirs(self) -> None:
        for path in (
            self.root_dir,
            self.config_dir,
            self.data_dir,
            self.runtime_dir,
            self.workspaces_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)
        for plugin_id, values in DEFAULT_USER_SETTINGS.items():
            if not self.settings_path(plugin_id).exists():
                self.write_settings(plugin_id, values)

    def settings_path(self, plugin_id: str) -> Path:
        """The user settings file of a JupyterLab plugin (`package:plugin`)."""
        package, plugin = plugin_id.split(":", 1)
        return self.user_settings_dir / package / f"{plugin}.jupyterlab-settings"

    def write_settings(self, plugin_id: str, values: dict[str, Any]) -> None:
        """Replace a plugin's user settings; pages opened afterwards load them."""
        path = self.settings_path(plugin_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        # Only the per-user dirs move to temp dirs; the venv's share/jupyter and
        # etc/jupyter stay on the search paths, so the installed labextension and the
        # server-config that enables the server extension are found as for a user.
        env.update(
            JUPYTER_CONFIG_DIR=str(self.config_dir),
            JUPYTER_DATA_DIR=str(self.data_dir),
            JUPYTER_RUNTIME_DIR=str(self.runtime_dir),
        )
        for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH"):
            env.pop(name, None)
        return env

    def _collaboration_args(self) -> list[str]:
        backend = collaboration_backend()
        if self.collaborative and backend is None:
            raise RuntimeError("jupyter-collaboration is not installed (the test extra has it)")
        if self.collaborative:
            return []
        if backend == SERVER_DOCUMENTS:
            raise RuntimeError(
                "jupyter-server-documents cannot be turned off for one server: the pages "
                "run cells through it; real-time collaboration off runs in a venv without it"
            )
        return ["--YDocExtension.disable_rtc=True"] if backend is not None else []

    def start(self, timeout: float = SERVER_START_TIMEOUT) -> None:
        """Start the server and wait until `/api/status` answers."""
        if self.running:
            return
        self._prepare_dirs()
        cmd = [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--ip=127.0.0.1",
            "--allow-root",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            f"--LabApp.workspaces_dir={self.workspaces_dir}",
            f"--LabApp.user_settings_dir={self.user_settings_dir}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            *self._collaboration_args(),
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            log.write(f"\n=== start: {' '.join(cmd)}\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                cmd,
                cwd=self.root_dir,
                env=self._env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                raise RuntimeError(
                    f"jupyter lab exited with code {code} before it was ready.\n"
                    f"--- server log ({self.log_path}) ---\n{self.log_tail()}"
                )
            try:
                status, _ = self.request("GET", "api/status", timeout=2.0)
                if status == 200:
                    return
                last_error = f"HTTP {status}"
            except (OSError, ValueError) as err:
                last_error = repr(err)
            time.sleep(0.2)
        self.stop(graceful=False)
        raise TimeoutError(
            f"jupyter lab did not answer /api/status within {timeout:.0f} s "
            f"(last: {last_error}).\n--- server log ({self.log_path}) ---\n{self.log_tail()}"
        )

    def stop(self, graceful: bool = True, timeout: float = SERVER_STOP_TIMEOUT) -> None:
        """Stop the server: SIGTERM (clean shutdown, kernels and extensions stopped) or
        SIGKILL (`graceful=False`, a crash: the kernels exit when they notice their parent
        is gone). Falls back to SIGKILL if a clean shutdown takes longer than `timeout`."""
        proc = self.process
        if proc is None:
            return
        self.process = None
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM if graceful else signal.SIGKILL)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)

    def restart(self, graceful: bool = True) -> None:
        """Stop and start again on the same port, token and dirs."""
        self.stop(graceful=graceful)
        self.start()

    def ensure_running(self) -> None:
        if not self.running:
            self.start()
