"""JupyterLab for the browser benchmark: one `jupyter lab` subprocess per flavour, the
benchmark's notebooks, and the script that runs in each page to time what it shows.

Stock is the same venv with both halves of the extension off: the server extension in the
temporary `jupyter_server_config.json` (as `common.Server` writes it) and the labextension
with `jupyter labextension disable --level=user`, whose user level is the temporary
`JUPYTER_CONFIG_DIR`. `page_flavour` reads back from a loaded page what it really runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import nbformat
from common import RATE_LIMITS_OFF, Server, read_tail, spawn
from ipykernel.ipkernel import IPythonKernel
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

LABEXTENSION = "jupyter-sidecar-ext"
MAIN_PLUGIN = "jupyter-sidecar-ext:plugin"
# The labextension heard back from the server: its Variables tab shows in the right sidebar.
OURS_READY = '.jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id="sidecar-variables"]'
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# No news toast, no update check, no autosave (the restore notebook's file must keep what
# the script wrote); everything else is JupyterLab's default, windowing mode included.
USER_SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension:plugin": {"autosave": False},
}

# The benchmark notebook, the same in both servers; the cell indexes the script drives.
TINY, TYPING, FLUSHED, UNFLUSHED, FLOOD = range(5)


def flushed_lines_code(count: int) -> str:
    return (
        f"import sys\nfor i in range({count}):\n    sys.stdout.write(f'{{i}}\\n')\n"
        "    sys.stdout.flush()"
    )


def bench_sources(flushed_lines: int, unflushed_lines: int, flood_lines: int) -> list[str]:
    return [
        "1",
        "",  # the editor typed into during the flood; above it, so it never moves
        flushed_lines_code(flushed_lines),
        f"for i in range({unflushed_lines}):\n    print(i)",
        flushed_lines_code(flood_lines),
    ]


def restore_sources(cells: int) -> list[str]:
    """Each cell prints a line and returns a value: a stream and an execute_result."""
    return [f"print('out-{k}')\n'res-{k}'" for k in range(cells)]


def write_notebook(path: Path, sources: list[str]) -> None:
    """A notebook as JupyterLab writes it once its kernel is connected (kernelspec and the
    kernel's language_info, so opening it does not make it dirty), without outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = dict(IPythonKernel.language_info)
    nb.cells = [nbformat.v4.new_code_cell(src, id=f"cell-{k}") for k, src in enumerate(sources)]
    nbformat.validate(nb)
    nbformat.write(nb, path)


def saved_outputs(path: Path) -> int:
    """How many cells of the notebook on disk have outputs."""
    nb = nbformat.read(path, as_version=4)
    return sum(1 for cell in nb.cells if cell.get("outputs"))


class Lab(Server):
    """`jupyter lab` in temporary dirs, flavour written explicitly (see module doc), the app
    exposed as `window.jupyterapp` (read-only use: flavour checks, clearing outputs between
    measurements), and real-time collaboration off when it is installed."""

    def __init__(
        self, base: Path, name: str, extension: bool, rate_limits_off: bool, extra: list[str]
    ) -> None:
        super().__init__(
            base / name,
            config=RATE_LIMITS_OFF if rate_limits_off else None,
            extra_args=extra,
            extension=extension,
            name=name,
        )
        self.settings_dir = self.dir / "settings"
        self.workspaces_dir = self.dir / "workspaces"

    def command(self) -> list[str]:
        rtc = importlib.util.find_spec("jupyter_server_ydoc") is not None
        return [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.workspaces_dir={self.workspaces_dir}",
            f"--LabApp.user_settings_dir={self.settings_dir}",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",
            *(["--YDocExtension.disable_rtc=True"] if rtc else []),
            *self.extra_args,
        ]

    def prepare(self) -> None:
        super().prepare()
        self.workspaces_dir.mkdir(parents=True, exist_ok=True)
        for plugin_id, values in USER_SETTINGS.items():
            package, plugin = plugin_id.split(":", 1)
            path = self.settings_dir / package / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))

    async def start(self, timeout: float = 60.0) -> None:
        self.prepare()
        if not self.extension:
            await self.disable_labextension(timeout)
        await super().start(timeout)

    async def disable_labextension(self, timeout: float) -> None:
        """`jupyter labextension disable` at the user level, i.e. in the temporary config dir
        (it writes `labconfig/page_config.json` there); the installed one stays as it is."""
        log = self.dir / "labextension-disable.log"
        command = [sys.executable, "-m", "jupyter", "labextension", "disable", "--level=user"]
        proc = await spawn([*command, LABEXTENSION], self.env(), self.dir, log)
        code = await asyncio.wait_for(proc.wait(), timeout)
        if code != 0:
            raise RuntimeError(f"labextension disable failed ({code}):\n{read_tail(log)}")

    def url(self, path: str, workspace: str) -> str:
        """A notebook opened in a new, reset workspace, logged in with the token."""
        return f"{self.base_url}/lab/workspaces/{workspace}/tree/{path}?reset&token={self.token}"


def add_page_options(parser: argparse.ArgumentParser, big_timeout: float) -> None:
    """The options of every benchmark driving JupyterLab pages: the browser, the waits
    (`--stall`: a lines check gives up after no new line for so long), the run's bound and
    whether to keep the temp dir."""
    add = parser.add_argument
    add("--chromium", default="/usr/bin/chromium", help="Chromium executable")
    add("--timeout", type=float, default=60.0, help="per small wait (s)")
    add("--big-timeout", type=float, default=big_timeout, help="per big cell or page load (s)")
    add("--stall", type=float, default=60.0, help="give up on lines after none new for (s)")
    add("--start-timeout", type=float, default=180.0, help="server start (s)")
    add("--max-seconds", type=float, default=3600.0, help="whole run bound (s)")
    add("--keep", action="store_true", help="keep the temp dir (server logs, screenshots)")


# -- in the page ------------------------------------------------------------------------------

# `__bench.arm(check, args)` runs `check` at every animation frame (the DOM a frame shows)
# until it holds, then keeps `{at: performance.now(), keys, marks}`; every keydown since
# `arm` is kept with its event timeStamp (when the browser got the key, before the page's
# main thread could handle it: time spent waiting for a busy page counts).
PAGE_SCRIPT = """
(() => {
  if (window.__bench) return;
  const text = el => (el ? el.textContent : '');
  const cells = () => document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell');
  const outputText = cell =>
    Array.from(cell.querySelectorAll('.jp-OutputArea-output'), text).join('');
  const promptOf = cell => text(cell.querySelector('.jp-InputPrompt')).trim();
  const bench = { keys: [], marks: {}, result: null, error: null, generation: 0 };
  bench.checks = {
    cleared: ({ index }) => {
      const cell = cells()[index];
      return !!cell && promptOf(cell) === '[ ]:' && outputText(cell) === '';
    },
    done: ({ index, output }) => {
      const cell = cells()[index];
      return !!cell && /^\\[\\d+\\]:$/.test(promptOf(cell)) && outputText(cell).trim() === output;
    },
    running: ({ index }) => {
      const cell = cells()[index];
      return !!cell && promptOf(cell) === '[*]:' && outputText(cell).length > 0;
    },
    finished: ({ index }) => {
      const cell = cells()[index];
      return !!cell && /^\\[\\d+\\]:$/.test(promptOf(cell));
    },
    lastLine: ({ index, last }) => {
      const cell = cells()[index];
      if (!cell) return false;
      const shown = outputText(cell).trimEnd();
      return shown === last || shown.endsWith('\\n' + last);
    },
    editorHas: ({ index, typed }) => {
      const cell = cells()[index];
      return !!cell && text(cell.querySelector('.cm-content')) === typed;
    },
    allOutputs: ({ count }) => {
      const all = cells();
      if (all.length && bench.marks.firstCell === undefined) {
        bench.marks.firstCell = performance.now();
      }
      if (all.length < count) return false;
      for (let k = 0; k < count; k++) {
        const shown = outputText(all[k]);
        if (!shown.includes(`out-${k}`) || !shown.includes(`'res-${k}'`)) return false;
      }
      return true;
    },
  };
  bench.arm = (name, args) => {
    const check = bench.checks[name];
    bench.armed = { name, args };
    const generation = ++bench.generation;
    bench.keys = [];
    bench.marks = {};
    bench.result = null;
    const frame = () => {
      if (generation !== bench.generation) return;
      let ok = false;
      try {
        ok = check(args);
      } catch (err) {
        bench.error = String(err);
      }
      if (ok) {
        bench.result = { at: performance.now(), keys: bench.keys, marks: bench.marks };
      } else {
        requestAnimationFrame(frame);
      }
    };
    requestAnimationFrame(frame);
  };
  // Lines 0..n-1 in order, each once: how many, and the first line that is not its number.
  bench.numberedLines = ({ index }) => {
    const cell = cells()[index];
    const lines = cell ? outputText(cell).split('\\n') : [];
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    const bad = lines.findIndex((line, i) => line !== String(i));
    return { count: lines.length, firstBad: bad, badText: bad < 0 ? null : lines[bad] };
  };
  // What the armed check's cell shows: for an error message when it never held.
  bench.describe = () => {
    const armed = bench.armed || { args: {} };
    const cell = cells()[armed.args.index];
    return {
      armed,
      cells: cells().length,
      prompt: cell ? promptOf(cell) : null,
      outputTail: cell ? outputText(cell).slice(-200) : null,
      editor: cell ? text(cell.querySelector('.cm-content')) : null,
      error: bench.error,
    };
  };
  window.addEventListener('keydown', e => bench.keys.push([e.key, e.timeStamp]), true);
  window.__bench = bench;
})();
"""

FLAVOUR_SCRIPT = """
async (id) => {
  const app = window.jupyterapp;
  await app.restored;
  const config = JSON.parse(document.getElementById('jupyter-config-data').textContent);
  const off = config.disabledExtensions || [];
  const disabled = Array.isArray(off) ? off : Object.keys(off).filter(k => off[k]);
  return {
    registered: app.hasPlugin(id),
    activated: app.isPluginActivated(id),
    disabled,
    federated: (config.federated_extensions || []).map(e => e.name),
    version: app.version,
  };
}
"""


class NotShown(RuntimeError):
    """An armed check did not hold in time."""


async def arm(page: Page, check: str, **args: Any) -> None:
    await page.evaluate("([name, args]) => window.__bench.arm(name, args)", [check, args])


async def shown(page: Page, timeout_s: float) -> dict[str, Any]:
    """The armed check's result once it held (polled every 20 ms; the time is the frame's).
    Raises with what the page shows when it did not hold within `timeout_s`."""
    try:
        handle = await page.wait_for_function(
            "() => window.__bench.result", polling=20, timeout=timeout_s * 1000
        )
    except PlaywrightTimeoutError:
        state = await page.evaluate("() => window.__bench.describe()")
        raise NotShown(f"not shown within {timeout_s} s; the page shows {state}") from None
    result: dict[str, Any] = await handle.json_value()
    return result


async def shown_while_growing(
    page: Page, index: int, stall_s: float, limit_s: float
) -> dict[str, Any]:
    """`shown` for a check on cell `index`'s lines, as long as the cell shows new lines:
    NotShown once `stall_s` went by without one (e.g. the server closed the page's kernel
    websocket: a flooded page that reads slowly misses the server's pings) or after
    `limit_s` in all."""
    deadline = asyncio.get_running_loop().time() + limit_s
    count = -1
    while True:
        try:
            return await shown(page, stall_s)
        except NotShown as err:
            before, count = count, int((await numbered_lines(page, index))["count"])
            if count <= before or asyncio.get_running_loop().time() > deadline:
                raise NotShown(f"stalled at {count} lines; {err}") from None


async def wait_check(page: Page, check: str, timeout_s: float, **args: Any) -> dict[str, Any]:
    await arm(page, check, **args)
    return await shown(page, timeout_s)


def key_time(result: dict[str, Any], key: str) -> float:
    """The timeStamp of the first keydown of `key` since the check was armed."""
    for name, at in result["keys"]:
        if name == key:
            return float(at)
    raise RuntimeError(f"no keydown {key!r} recorded: {result['keys']}")


async def command(page: Page, name: str) -> None:
    """Run a JupyterLab command (setup between measurements, never timed)."""
    await page.evaluate("(name) => window.jupyterapp.commands.execute(name)", name)


async def numbered_lines(page: Page, index: int) -> dict[str, Any]:
    found: dict[str, Any] = await page.evaluate(
        "(index) => window.__bench.numberedLines({ index })", index
    )
    return found


async def page_flavour(page: Page, ours: bool, timeout_s: float) -> dict[str, Any]:
    """What the loaded page runs: our plugin registered and activated, our labextension
    installed (listed) and disabled or not. Raises when that is not the flavour claimed."""
    await page.wait_for_function("() => window.jupyterapp", timeout=timeout_s * 1000)
    found: dict[str, Any] = await page.evaluate(FLAVOUR_SCRIPT, MAIN_PLUGIN)
    installed = LABEXTENSION in found["federated"]
    disabled = LABEXTENSION in found["disabled"]
    if ours:
        await page.locator(OURS_READY).wait_for(timeout=timeout_s * 1000)
        fine = installed and not disabled and found["registered"] and found["activated"]
    else:
        fine = installed and disabled and not found["registered"]
    if not fine:
        raise RuntimeError(f"the {'ours' if ours else 'stock'} page is not that flavour: {found}")
    return found
