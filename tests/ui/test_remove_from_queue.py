""" "Remove from Queue" drops a waiting cell without interrupting the kernel (real browser).

A sleeping cell runs, two quick cells wait behind it in the server-held queue; the
middle one is removed from the cell context menu. The sleeping cell ends normally, the
last one runs after it, and the removed one never gets an execution count.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import LabServer

pytestmark = pytest.mark.ui

READY = 'body[data-sidecar-ext="active"]'
LOAD_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 20_000
SERVER_TIMEOUT = 30.0
# The first cell runs until the test creates its flag file (after opening the menu and
# clicking in it), whatever the machine's speed.
WAITING = (
    "import os, time\nwhile not os.path.exists({flag!r}):\n    time.sleep(0.02)\nprint('slept')"
)
REMOVED = "removed = True\nprint('removed ran')"
LAST = "print('last ran')"
MENU_ITEM = "Remove from Queue"


@dataclass(frozen=True)
class NotebookFile:
    path: str  # relative to the server's root_dir
    cell_ids: list[str]
    release: Path  # created by the test to end the first cell


@pytest.fixture
def notebook(sc_lab_server: LabServer) -> Iterator[NotebookFile]:
    """A notebook with a sleeping cell and two quick ones; its sessions end afterwards."""
    sc_lab_server.ensure_running()
    token = secrets.token_hex(4)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    cell_ids = [f"{name}-{token}" for name in ("sleeping", "removed", "last")]
    release = sc_lab_server.root_dir / f"release-{token}"
    sleeping = WAITING.format(flag=str(release))
    for cell_id, source in zip(cell_ids, [sleeping, REMOVED, LAST], strict=True):
        nb.cells.append(nbformat.v4.new_code_cell(source, id=cell_id))
    nbformat.validate(nb)
    path = f"queue-{token}.ipynb"
    nbformat.write(nb, sc_lab_server.root_dir / path)
    yield NotebookFile(path=path, cell_ids=cell_ids, release=release)
    if sc_lab_server.running:
        for session in _sessions(sc_lab_server, path):
            sc_lab_server.request("DELETE", f"api/sessions/{session['id']}")


# --- page helpers ---------------------------------------------------------------------------


def code_cells(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel .jp-CodeCell")


def prompt(page: Page, index: int) -> Locator:
    return code_cells(page).nth(index).locator(".jp-InputPrompt")


def outputs(page: Page, index: int) -> Locator:
    return code_cells(page).nth(index).locator(".jp-OutputArea-output")


def open_notebook(page: Page, server: LabServer, path: str) -> None:
    workspace = f"sc-queue-{secrets.token_hex(4)}"
    page.goto(server.lab_url(f"lab/workspaces/{workspace}/tree/{path}", reset=""))
    page.wait_for_selector(READY, state="attached", timeout=LOAD_TIMEOUT_MS)
    code_cells(page).first.wait_for(timeout=LOAD_TIMEOUT_MS)
    status = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$"))
    status.wait_for(timeout=LOAD_TIMEOUT_MS)


def run_all_three(page: Page) -> None:
    """Shift+Enter on each cell in a row: the last two wait behind the sleeping one."""
    code_cells(page).first.locator(".jp-InputArea-editor").click()
    for _ in range(3):
        page.keyboard.press("Shift+Enter")
    for index in range(3):
        expect(prompt(page, index)).to_have_text("[*]:")


def context_menu_item(page: Page, index: int) -> Locator:
    """Right-click a cell's prompt: the cell becomes the active one, the menu opens."""
    prompt(page, index).click(button="right")
    return page.locator(".lm-Menu .lm-Menu-item", has_text=MENU_ITEM)


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


def queue_of(server: LabServer, kernel_id: str) -> dict[str, Any] | None:
    """The kernel's server-held queue, or None when the server has none (older server,
    queue disabled)."""
    status, queue = server.request("GET", f"api/sidecar/kernels/{kernel_id}/queue")
    if status != 200 or not queue.get("enabled"):
        return None
    return dict(queue)


def wait_queued(server: LabServer, kernel_id: str, cell_ids: list[str]) -> None:
    """Poll until the server holds exactly these cells in its queue (bounded)."""
    deadline = time.monotonic() + SERVER_TIMEOUT
    queue: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        queue = queue_of(server, kernel_id)
        if queue and [entry["cell_id"] for entry in queue["queued"]] == cell_ids:
            return
        time.sleep(0.1)
    raise AssertionError(f"the server did not queue {cell_ids}: {queue}")


# --- tests ----------------------------------------------------------------------------------


def test_remove_a_queued_cell_from_the_context_menu(
    sc_lab_server: LabServer, sc_page: Page, notebook: NotebookFile, tmp_path: Path
) -> None:
    page = sc_page
    open_notebook(page, sc_lab_server, notebook.path)
    kernel_id = kernel_of(sc_lab_server, notebook.path)
    if queue_of(sc_lab_server, kernel_id) is None:
        pytest.skip("the server has no execution queue (GET .../queue does not answer 200)")

    run_all_three(page)
    _, removed, last = notebook.cell_ids
    wait_queued(sc_lab_server, kernel_id, [removed, last])

    item = context_menu_item(page, 1)
    expect(item).to_be_visible()
    expect(item).not_to_have_class(re.compile(r"\blm-mod-disabled\b"))
    page.screenshot(path=tmp_path / "menu.png")
    item.click()

    # The removed cell is cleared by JupyterLab itself (an aborted reply), at once.
    expect(prompt(page, 1)).to_have_text("[ ]:", timeout=RUN_TIMEOUT_MS)
    expect(prompt(page, 0)).to_have_text("[*]:")
    notebook.release.touch()
    # The sleeping cell was not interrupted; the last cell ran after it.
    expect(prompt(page, 0)).to_have_text("[1]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 0)).to_contain_text("slept")
    expect(prompt(page, 2)).to_have_text("[2]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 2)).to_contain_text("last ran")
    expect(outputs(page, 1)).to_have_count(0)
    queue = queue_of(sc_lab_server, kernel_id)
    assert queue is not None and queue["running"] is None and queue["queued"] == [], queue
    page.screenshot(path=tmp_path / "after.png")


def test_the_running_cell_cannot_be_removed(
    sc_lab_server: LabServer, sc_page: Page, notebook: NotebookFile
) -> None:
    """The menu item shows for a `[*]` cell but stays disabled for the one that runs
    (removing is never an interrupt); without a server queue it is disabled for all."""
    page = sc_page
    open_notebook(page, sc_lab_server, notebook.path)
    code_cells(page).first.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(prompt(page, 0)).to_have_text("[*]:")

    item = context_menu_item(page, 0)
    expect(item).to_be_visible()
    expect(item).to_have_class(re.compile(r"\blm-mod-disabled\b"))
    page.keyboard.press("Escape")
    notebook.release.touch()
    expect(prompt(page, 0)).to_have_text("[1]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 0)).to_contain_text("slept")
