"""Outputs never lost: the labextension puts back what the server recorded (real browser).

Each test writes a notebook (with cell ids and a kernelspec) into the server's root_dir,
runs its one cell in a first page (a loop printing a line every 0.5 s), closes that page
without saving (autosave is off in the harness, so the file on disk never has outputs),
and looks at what a new page shows.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Locator, Page, expect

from .harness import LabServer

pytestmark = pytest.mark.ui

LINES = 12
CODE = (
    "import time\n"
    f"for i in range({LINES}):\n"
    "    print(f'line {i}', flush=True)\n"
    "    time.sleep(0.5)"
)
EXPECTED_LINES = [f"line {i}" for i in range(LINES)]
SETTINGS_PLUGIN = "jupyter-sidecar-ext:plugin"
READY = 'body[data-sidecar-ext="active"]'
FINAL_STATUSES = {"ok", "error", "aborted"}
SERVER_CELL_TIMEOUT = 30.0
LOAD_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 20_000


@dataclass(frozen=True)
class NotebookFile:
    path: str  # relative to the server's root_dir
    cell_id: str


@pytest.fixture
def notebook(sc_lab_server: LabServer) -> Iterator[NotebookFile]:
    """A notebook with one printing cell; its sessions are shut down afterwards."""
    sc_lab_server.ensure_running()
    token = secrets.token_hex(4)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    cell_id = f"printing-{token}"
    nb.cells.append(nbformat.v4.new_code_cell(CODE, id=cell_id))
    nbformat.validate(nb)
    path = f"restore-{token}.ipynb"
    nbformat.write(nb, sc_lab_server.root_dir / path)
    yield NotebookFile(path=path, cell_id=cell_id)
    if sc_lab_server.running:
        for session in _sessions(sc_lab_server, path):
            sc_lab_server.request("DELETE", f"api/sessions/{session['id']}")


@pytest.fixture
def restore_setting(sc_lab_server: LabServer) -> Iterator[Callable[[bool], None]]:
    """Set `restoreOutputs` for pages opened afterwards; back to the default after."""
    path = sc_lab_server.settings_path(SETTINGS_PLUGIN)

    def set_restore(value: bool) -> None:
        sc_lab_server.write_settings(SETTINGS_PLUGIN, {"restoreOutputs": value})

    yield set_restore
    path.unlink(missing_ok=True)


class Pages:
    """Pages of one test, each opening a notebook in a workspace of its own."""

    def __init__(self, browser: BrowserContext, server: LabServer) -> None:
        self._browser = browser
        self._server = server
        self.opened: list[tuple[Page, list[str]]] = []

    def open(self, path: str) -> Page:
        self._server.ensure_running()
        page = self._browser.new_page()
        console: list[str] = []

        def record(message: ConsoleMessage) -> None:
            console.append(f"[{message.type}] {message.text}")

        page.on("console", record)
        self.opened.append((page, console))
        workspace = f"sc-restore-{secrets.token_hex(4)}"
        page.goto(self._server.lab_url(f"lab/workspaces/{workspace}/tree/{path}", reset=""))
        page.wait_for_selector(READY, state="attached", timeout=LOAD_TIMEOUT_MS)
        code_cell(page).wait_for(timeout=LOAD_TIMEOUT_MS)
        return page

    def console(self, page: Page) -> list[str]:
        return next(lines for opened, lines in self.opened if opened is page)


@pytest.fixture
def pages(
    request: pytest.FixtureRequest,
    sc_browser: BrowserContext,
    sc_lab_server: LabServer,
    tmp_path: Path,
) -> Iterator[Pages]:
    """Opens notebooks in new pages; on failure, every page's screenshot and console are
    saved under tmp_path."""
    opener = Pages(sc_browser, sc_lab_server)
    yield opener
    report = getattr(request.node, "sc_report_call", None)
    failed = report is not None and report.failed
    for index, (page, console) in enumerate(opener.opened):
        if failed:
            if not page.is_closed():
                page.screenshot(path=tmp_path / f"page{index}.png", full_page=True)
            (tmp_path / f"page{index}-console.log").write_text("\n".join(console) + "\n")
        if not page.is_closed():
            page.close()
    if failed:
        print(f"UI failure artifacts in {tmp_path}")
        print(f"--- server log tail ---\n{sc_lab_server.log_tail()}")


# --- page helpers ---------------------------------------------------------------------------


def code_cell(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel .jp-CodeCell").first


def prompt(page: Page) -> Locator:
    return code_cell(page).locator(".jp-InputPrompt")


def outputs(page: Page) -> Locator:
    return code_cell(page).locator(".jp-OutputArea-output")


def wait_restore_state(page: Page, state: str) -> None:
    """The labextension marks the notebook panel once it has read the server's record."""
    page.wait_for_selector(
        f'.jp-NotebookPanel[data-sidecar-restore="{state}"]',
        state="attached",
        timeout=LOAD_TIMEOUT_MS,
    )


def wait_kernel_idle(page: Page) -> None:
    """The status bar shows the notebook's kernel, connected and idle."""
    status = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$"))
    status.wait_for(timeout=LOAD_TIMEOUT_MS)


def run_first_line(page: Page) -> None:
    """Run the cell with Shift+Enter and wait until its first line is shown."""
    code_cell(page).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(prompt(page)).to_have_text("[*]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page).first).to_contain_text("line 0", timeout=RUN_TIMEOUT_MS)


def shown_lines(page: Page) -> list[str]:
    return "".join(outputs(page).all_inner_texts()).splitlines()


def expect_all_lines_once(page: Page, execution_count: int) -> None:
    """Every line exactly once, in one output (merged stream), and the prompt's number."""
    expect(prompt(page)).to_have_text(f"[{execution_count}]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page)).to_have_count(1)
    expect(outputs(page).first).to_contain_text(EXPECTED_LINES[-1])
    assert shown_lines(page) == EXPECTED_LINES


# --- server helpers -------------------------------------------------------------------------


def _sessions(server: LabServer, path: str) -> list[dict[str, Any]]:
    status, sessions = server.request("GET", "api/sessions")
    assert status == 200, sessions
    return [session for session in sessions if session.get("path") == path]


def kernel_of(server: LabServer, path: str) -> str:
    sessions = _sessions(server, path)
    assert len(sessions) == 1, sessions
    kernel_id: str = sessions[0]["kernel"]["id"]
    return kernel_id


def wait_cell_done(server: LabServer, kernel_id: str, cell_id: str) -> dict[str, Any]:
    """Poll the server's record of the cell until its execution ended (bounded)."""
    deadline = time.monotonic() + SERVER_CELL_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        status, last = server.request("GET", f"api/sidecar/kernels/{kernel_id}/cells/{cell_id}")
        if status == 200 and last["status"] in FINAL_STATUSES:
            return dict(last)
        time.sleep(0.2)
    _, record = server.request("GET", f"api/sidecar/kernels/{kernel_id}/notebook")
    unmatched = [cell["id"] for cell in record.get("cells", []) if cell["id"] == cell["msg_id"]]
    if unmatched:
        raise AssertionError(
            f"the server recorded executions without JupyterLab's cellId ({unmatched}): "
            "its execute_requests did not go through SidecarKernelConnection "
            f"(ServerApp.kernel_websocket_connection_class not applied?); record: {record}"
        )
    raise AssertionError(f"cell {cell_id} did not finish on the server: {last}; record: {record}")


def assert_recorded_everything(cell: dict[str, Any]) -> None:
    assert cell["status"] == "ok", cell
    assert [o["output_type"] for o in cell["outputs"]] == ["stream"], cell["outputs"]
    assert cell["outputs"][0]["text"].splitlines() == EXPECTED_LINES


# --- tests ----------------------------------------------------------------------------------


def test_outputs_of_a_closed_page_are_restored(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    pages: Pages,
    tmp_path: Path,
) -> None:
    """(a) The page closes after the first line; the cell ends on the server; a new page
    shows every line once and the execution count."""
    first = pages.open(notebook.path)
    wait_restore_state(first, "synced")
    wait_kernel_idle(first)
    run_first_line(first)
    first.close()

    recorded = wait_cell_done(
        sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id
    )
    assert_recorded_everything(recorded)

    second = pages.open(notebook.path)
    wait_restore_state(second, "synced")
    expect_all_lines_once(second, recorded["execution_count"])
    restored = [line for line in pages.console(second) if "restored outputs" in line]
    assert len(restored) == 1 and f"filled [{notebook.cell_id}]" in restored[0], restored
    second.screenshot(path=tmp_path / "restored.png")


def test_a_running_cell_continues_live_in_a_new_page(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    pages: Pages,
    tmp_path: Path,
) -> None:
    """(b) The new page opens while the cell still runs: [*], then lines keep arriving
    live, each once, and the prompt gets its number."""
    first = pages.open(notebook.path)
    wait_restore_state(first, "synced")
    wait_kernel_idle(first)
    run_first_line(first)
    first.close()

    second = pages.open(notebook.path)
    wait_restore_state(second, "synced")
    expect(prompt(second)).to_have_text("[*]:")
    expect(outputs(second).first).to_contain_text("line 0")
    seen = len(shown_lines(second))
    assert 0 < seen < LINES, shown_lines(second)
    restored = [line for line in pages.console(second) if "restored outputs" in line]
    assert any(f"followed [{notebook.cell_id}]" in line for line in restored), restored
    second.screenshot(path=tmp_path / "following.png")
    # A line arrives while the cell still shows as running: live, not fetched at the end.
    second.wait_for_function(
        """([seen]) => {
            const cell = document.querySelector('.jp-NotebookPanel .jp-CodeCell');
            const prompt = cell.querySelector('.jp-InputPrompt').textContent;
            const text = cell.querySelector('.jp-OutputArea-output')?.textContent ?? '';
            return prompt === '[*]:' && text.trim().split('\\n').length > seen;
        }""",
        arg=[seen],
        timeout=RUN_TIMEOUT_MS,
    )
    recorded = wait_cell_done(
        sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id
    )
    assert_recorded_everything(recorded)
    expect_all_lines_once(second, recorded["execution_count"])
    second.screenshot(path=tmp_path / "followed.png")


def test_outputs_from_before_a_server_restart_are_offered(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    pages: Pages,
    tmp_path: Path,
) -> None:
    """(c) The cell ended, the page closed unsaved, the server restarted: a new page offers
    the recorded outputs; "Restore outputs" puts them back."""
    first = pages.open(notebook.path)
    wait_restore_state(first, "synced")
    wait_kernel_idle(first)
    run_first_line(first)
    first.close()
    old_kernel = kernel_of(sc_lab_server, notebook.path)
    recorded = wait_cell_done(sc_lab_server, old_kernel, notebook.cell_id)
    assert_recorded_everything(recorded)

    sc_lab_server.restart()

    second = pages.open(notebook.path)
    toast = second.locator(".jp-toast-message", has_text="earlier kernel session")
    expect(toast).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(toast).to_contain_text(f"1 cell of {notebook.path} has outputs recorded")
    assert kernel_of(sc_lab_server, notebook.path) != old_kernel
    # Offered, not restored behind the user's back.
    expect(outputs(second)).to_have_count(0)
    expect(prompt(second)).to_have_text("[ ]:")
    second.screenshot(path=tmp_path / "offer.png")

    second.get_by_role("button", name="Restore outputs").click()
    expect_all_lines_once(second, recorded["execution_count"])
    expect(toast).to_be_hidden()
    second.screenshot(path=tmp_path / "offer-restored.png")


def test_restore_setting_off_restores_nothing_until_turned_on(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    pages: Pages,
    restore_setting: Callable[[bool], None],
    tmp_path: Path,
) -> None:
    """(d) With `restoreOutputs` false nothing is restored; turning it on in the settings
    editor applies at once."""
    restore_setting(False)
    first = pages.open(notebook.path)
    wait_restore_state(first, "off")
    wait_kernel_idle(first)
    run_first_line(first)
    first.close()
    recorded = wait_cell_done(
        sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id
    )
    assert_recorded_everything(recorded)

    second = pages.open(notebook.path)
    wait_restore_state(second, "off")
    wait_kernel_idle(second)  # connected to the kernel that recorded the cell
    expect(outputs(second)).to_have_count(0)
    expect(prompt(second)).to_have_text("[ ]:")
    second.screenshot(path=tmp_path / "off.png")

    # Settings > Settings Editor > Sidecar > Restore outputs: applies to open notebooks.
    second.get_by_role("menuitem", name="Settings").click()
    second.get_by_role("menuitem", name="Settings Editor").click()
    second.locator(".jp-PluginList").get_by_text("Sidecar", exact=True).click()
    checkbox = second.get_by_role("checkbox", name="Restore outputs")
    expect(checkbox).not_to_be_checked()
    checkbox.check()
    second.get_by_role("tab", name=re.compile(re.escape(notebook.path))).click()
    wait_restore_state(second, "synced")
    expect_all_lines_once(second, recorded["execution_count"])
    second.screenshot(path=tmp_path / "turned-on.png")


def test_an_edited_cell_is_not_overwritten(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    pages: Pages,
) -> None:
    """The recorded execution ran code that the notebook no longer has: nothing is put
    back into that cell."""
    first = pages.open(notebook.path)
    wait_restore_state(first, "synced")
    wait_kernel_idle(first)
    run_first_line(first)
    first.close()
    recorded = wait_cell_done(
        sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id
    )
    assert_recorded_everything(recorded)

    # The cell's code changes on disk (e.g. edited by another client, then saved).
    file = sc_lab_server.root_dir / notebook.path
    nb = nbformat.read(file, as_version=4)
    nb.cells[0].source = CODE.replace("line", "row")
    nbformat.write(nb, file)

    second = pages.open(notebook.path)
    wait_restore_state(second, "synced")
    expect(code_cell(second).locator(".jp-InputArea-editor")).to_contain_text("row {i}")
    expect(outputs(second)).to_have_count(0)
    expect(prompt(second)).to_have_text("[ ]:")


def test_outputs_already_shown_are_not_duplicated(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    pages: Pages,
) -> None:
    """The page saved the finished cell, so the file has its outputs: a new page shows them
    once, as saved."""
    first = pages.open(notebook.path)
    wait_restore_state(first, "synced")
    wait_kernel_idle(first)
    run_first_line(first)
    recorded = wait_cell_done(
        sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id
    )
    expect_all_lines_once(first, recorded["execution_count"])
    first.keyboard.press("Control+s")
    first.locator(".jp-mod-dirty").wait_for(state="detached")  # saved: tab no longer dirty
    saved = nbformat.read(sc_lab_server.root_dir / notebook.path, as_version=4)
    assert "".join(saved.cells[0].outputs[0].text).splitlines() == EXPECTED_LINES
    first.close()

    second = pages.open(notebook.path)
    wait_restore_state(second, "synced")
    expect_all_lines_once(second, recorded["execution_count"])
    # Found identical ("same"): nothing was put back.
    restored = [line for line in pages.console(second) if "restored outputs" in line]
    assert restored == [], restored
