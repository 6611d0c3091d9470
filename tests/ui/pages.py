"""Page and server helpers shared by the real-browser tests.

Pages: open a document in a workspace of its own (a fresh layout, whatever earlier tests
left in the session's shared workspaces directory), wait for what the labextension shows
once it heard back from the server, and for the kernel, find cells, run them. Server: the
files a test writes into root_dir, the sessions of a notebook (over the REST API), and a
bounded poll for server state that no page shows. Every wait on the page is on visible
state (Playwright's auto-waiting locators and `expect`) or on what the labextension says
in the browser console.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import nbformat
from ipykernel.ipkernel import IPythonKernel
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page

from .harness import LabServer

# What a user sees once the labextension heard back from the server: the Variables tab in
# the right sidebar. Every feature plugin turns on at that same moment (when the server's
# `GET api/sidecar` lists its feature), so its commands and buttons exist too.
READY = '.jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id="sidecar-variables"]'
LOAD_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 20_000
SERVER_TIMEOUT = 30.0
POLL_INTERVAL = 0.1
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}

T = TypeVar("T")


# --- page helpers ---------------------------------------------------------------------------


def goto_workspace(page: Page, server: LabServer, prefix: str, path: str | None = None) -> None:
    """Open JupyterLab (and the document `path`, if given) in a new, reset workspace."""
    workspace = f"lab/workspaces/{prefix}-{secrets.token_hex(4)}"
    tree = "" if path is None else f"/tree/{path}"
    page.goto(server.lab_url(workspace + tree, reset=""))


def wait_extension_ready(page: Page) -> None:
    """The labextension has loaded and heard back from the server (its Variables tab shows)."""
    page.locator(READY).wait_for(timeout=LOAD_TIMEOUT_MS)


def wait_kernel_idle(page: Page) -> None:
    """The status bar shows the notebook's kernel, connected and idle."""
    status = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$"))
    status.wait_for(timeout=LOAD_TIMEOUT_MS)


def wait_notebook_ready(page: Page) -> None:
    """The extension answered, the notebook shows, and its kernel is connected and idle."""
    wait_extension_ready(page)
    code_cells(page).first.wait_for(timeout=LOAD_TIMEOUT_MS)
    wait_kernel_idle(page)


def open_notebook7(page: Page, server: LabServer, path: str) -> None:
    """Open a notebook in Notebook 7's notebook page and wait until the page's kernel
    websocket is connected (Notebook 7 has no status bar: the server tells). A run issued
    earlier is the hold plugin's subject (test_run_before_ready.py); on a loaded machine
    JupyterLab can answer one issued while the session is still being set up with a
    "Select Kernel" dialog, which blocks the test."""
    page.goto(server.lab_url(f"notebooks/{path}"))
    code_cells(page).first.wait_for(timeout=LOAD_TIMEOUT_MS)

    def connected(answer: tuple[int, Any]) -> bool:
        status, sessions = answer
        kernels = [s.get("kernel") or {} for s in sessions if s.get("path") == path]
        return status == 200 and any(k.get("connections", 0) >= 1 for k in kernels)

    poll(
        lambda: server.request("GET", "api/sessions"),
        connected,
        lambda answer: f"no connected kernel for {path}: {answer}",
    )


def open_notebook(page: Page, server: LabServer, prefix: str, path: str) -> None:
    """Open a notebook in a new workspace and wait until it can run cells."""
    goto_workspace(page, server, prefix, path)
    wait_notebook_ready(page)


def code_cells(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel .jp-CodeCell")


def prompt(page: Page, index: int = 0) -> Locator:
    return code_cells(page).nth(index).locator(".jp-InputPrompt")


def outputs(page: Page, index: int = 0) -> Locator:
    return code_cells(page).nth(index).locator(".jp-OutputArea-output")


def run_cell(page: Page, index: int = 0) -> None:
    """Click into the code cell's editor and run it with Shift+Enter (the next becomes
    active, so more Shift+Enter presses run the cells after it)."""
    code_cells(page).nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


class Pages:
    """Pages of one test, each opening a document in a workspace of its own; keeps every
    page's console so that a failed test leaves each page's screenshot and console.

    A subclass records more of each page (`watch`) or waits for other content (`loaded`).
    """

    def __init__(self, browser: BrowserContext, server: LabServer, workspace: str) -> None:
        self._browser = browser
        self._server = server
        self._workspace = workspace
        self.opened: list[tuple[Page, list[str]]] = []

    def new_page(self) -> Page:
        """A blank page whose console is recorded (the server is started if it is down)."""
        self._server.ensure_running()
        page = self._browser.new_page()
        console: list[str] = []

        def record(message: ConsoleMessage) -> None:  # Playwright rejects builtin methods
            console.append(f"[{message.type}] {message.text}")

        page.on("console", record)
        # A collaborative room that syncs after 5 s (as the first ones may on a loaded
        # machine) asks whether to keep waiting, a dialog over every click: a user would.
        loading = page.get_by_role("dialog", name=re.compile("^Loading"))
        page.add_locator_handler(
            loading, lambda dialog: dialog.get_by_role("button", name="Continue waiting").click()
        )
        self.opened.append((page, console))
        self.watch(page)
        return page

    def watch(self, page: Page) -> None:
        """Called for each new page before it loads anything; records nothing here."""

    def loaded(self, page: Page) -> Locator:
        """What shows once the opened document has loaded: a notebook's first code cell."""
        return code_cells(page).first

    def open(self, path: str) -> Page:
        """A new page with `path` open in a new workspace, once the extension is ready."""
        page = self.new_page()
        goto_workspace(page, self._server, self._workspace, path)
        wait_extension_ready(page)
        self.loaded(page).wait_for(timeout=LOAD_TIMEOUT_MS)
        return page

    def console(self, page: Page) -> list[str]:
        """The page's console so far, one `[type] text` line a message."""
        return next(lines for opened, lines in self.opened if opened is page)

    def wait_console(
        self, page: Page, matches: Callable[[str], bool], timeout_ms: float = LOAD_TIMEOUT_MS
    ) -> str:
        """Wait until the page's console has a line that `matches`, and return the first.
        For what the labextension says in the console (e.g. what restoring did), not for
        what the page shows: that is waited for with locators."""
        lines = self.console(page)
        deadline = time.monotonic() + timeout_ms / 1000
        while not (found := [line for line in lines if matches(line)]):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no such console line; console: {lines}")
            # The recorder (registered first) has the line when this returns.
            page.wait_for_event("console", timeout=remaining * 1000)
        return found[0]

    def close(self, artifacts: Path | None = None) -> None:
        """Close every page; given a directory (the test failed), first save each page's
        screenshot and console there, and print where, with the server's log tail."""
        for index, (page, console) in enumerate(self.opened):
            if artifacts is not None:
                if not page.is_closed():
                    try:
                        page.screenshot(path=artifacts / f"page{index}.png", full_page=True)
                    except Exception as err:  # the page may be gone; keep the other artifacts
                        print(f"screenshot of page {index} failed: {err!r}")
                (artifacts / f"page{index}-console.log").write_text("\n".join(console) + "\n")
            if not page.is_closed():
                page.close()
        if artifacts is not None:
            print(f"UI failure artifacts in {artifacts}")
            print(f"--- server log tail ---\n{self._server.log_tail()}")


# --- server helpers -------------------------------------------------------------------------


def sessions_of(server: LabServer, path: str) -> list[dict[str, Any]]:
    """The server's sessions of the document `path`."""
    status, sessions = server.request("GET", "api/sessions")
    assert status == 200, sessions
    return [session for session in sessions if session.get("path") == path]


def kernel_of(server: LabServer, path: str) -> str:
    """The id of the kernel of the one session of the notebook `path`."""
    sessions = sessions_of(server, path)
    assert len(sessions) == 1, sessions
    kernel_id: str = sessions[0]["kernel"]["id"]
    return kernel_id


def end_sessions(server: LabServer, paths: Iterable[str]) -> None:
    """Shut the sessions (and so the kernels) of these documents down, if the server runs."""
    if not server.running:
        return
    wanted = set(paths)
    status, sessions = server.request("GET", "api/sessions")
    assert status == 200, sessions
    for session in sessions:
        if session.get("path") in wanted:
            server.request("DELETE", f"api/sessions/{session['id']}")


def poll(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    failure: Callable[[T], str],
    timeout: float = SERVER_TIMEOUT,
) -> T:
    """Call `fetch` until `done` holds for its answer, and return that answer; after
    `timeout` seconds, fail with `failure(last answer)`. For server state no page shows (a
    cell's record, the variables cache, the queue): bounded, never a fixed wait."""
    deadline = time.monotonic() + timeout
    answer = fetch()
    while not done(answer):
        if time.monotonic() >= deadline:
            raise AssertionError(failure(answer))
        time.sleep(POLL_INTERVAL)
        answer = fetch()
    return answer


class Files:
    """Notebooks and files of one test, written into the server's root_dir under names of
    their own; the sessions of its notebooks are shut down by `end_sessions()`."""

    def __init__(self, server: LabServer) -> None:
        self.server = server
        self.paths: list[str] = []

    def notebook(self, prefix: str, *cells: tuple[str, str], ids: Sequence[str] = ()) -> str:
        """Write a Python notebook of (cell_type, source) cells; return its path.

        Cell ids are `ids`, else `cell-<index>`. Its metadata is what JupyterLab writes
        once the kernel is connected: the kernelspec and the kernel's `language_info`
        (ipykernel's, from this venv). Without it, the page copies `language_info` from
        the kernel's info reply into the notebook, an edit that lands whenever the kernel
        answers: after a save, the document is dirty again.
        """
        cell_ids = list(ids) or [f"cell-{index}" for index in range(len(cells))]
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = dict(KERNELSPEC)
        nb.metadata["language_info"] = dict(IPythonKernel.language_info)
        for cell_id, (cell_type, source) in zip(cell_ids, cells, strict=True):
            make = (
                nbformat.v4.new_code_cell if cell_type == "code" else nbformat.v4.new_markdown_cell
            )
            nb.cells.append(make(source, id=cell_id))
        nbformat.validate(nb)
        path = f"{prefix}-{secrets.token_hex(4)}.ipynb"
        nbformat.write(nb, self.server.root_dir / path)
        self.paths.append(path)
        return path

    def text(self, prefix: str, name: str, content: str) -> str:
        """Write a text file; return its path."""
        path = f"{prefix}-{secrets.token_hex(4)}-{name}"
        (self.server.root_dir / path).write_text(content)
        self.paths.append(path)
        return path

    def saved_sources(self, path: str) -> list[str]:
        """The cell sources of the notebook as it is on disk."""
        nb = nbformat.read(self.server.root_dir / path, as_version=4)
        return [cell.source for cell in nb.cells]

    def end_sessions(self) -> None:
        end_sessions(self.server, self.paths)
