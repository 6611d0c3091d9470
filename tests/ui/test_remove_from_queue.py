""" "Remove from Queue" drops a waiting cell without interrupting the kernel (real browser).

A sleeping cell runs, two quick cells wait behind it in the server-held queue; the
middle one is removed from the cell context menu. The sleeping cell ends normally, the
last one runs after it, and the removed one never gets an execution count.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import LabServer
from .pages import (
    RUN_TIMEOUT_MS,
    Files,
    kernel_of,
    open_notebook,
    outputs,
    poll,
    prompt,
    run_cell,
)

pytestmark = pytest.mark.ui

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
def notebook(sc_files: Files) -> NotebookFile:
    """A notebook with a sleeping cell and two quick ones; its sessions end afterwards."""
    token = secrets.token_hex(4)
    cell_ids = [f"{name}-{token}" for name in ("sleeping", "removed", "last")]
    release = sc_files.server.root_dir / f"release-{token}"
    sleeping = WAITING.format(flag=str(release))
    path = sc_files.notebook(
        "queue", ("code", sleeping), ("code", REMOVED), ("code", LAST), ids=cell_ids
    )
    return NotebookFile(path=path, cell_ids=cell_ids, release=release)


# --- page helpers ---------------------------------------------------------------------------


def run_all_three(page: Page) -> None:
    """Shift+Enter on each cell in a row: the last two wait behind the sleeping one."""
    run_cell(page, 0)
    for _ in range(2):
        page.keyboard.press("Shift+Enter")
    for index in range(3):
        expect(prompt(page, index)).to_have_text("[*]:")


def context_menu_item(page: Page, index: int) -> Locator:
    """Right-click a cell's prompt: the cell becomes the active one, the menu opens."""
    prompt(page, index).click(button="right")
    return page.locator(".lm-Menu .lm-Menu-item", has_text=MENU_ITEM)


# --- server helpers -------------------------------------------------------------------------


def queue_of(server: LabServer, kernel_id: str) -> dict[str, Any] | None:
    """The kernel's server-held queue, or None when the server has none (older server,
    queue disabled)."""
    status, queue = server.request("GET", f"api/sidecar/kernels/{kernel_id}/queue")
    if status != 200 or not queue.get("enabled"):
        return None
    return dict(queue)


def wait_queued(server: LabServer, kernel_id: str, cell_ids: list[str]) -> None:
    """Poll until the server holds exactly these cells in its queue (bounded)."""
    poll(
        lambda: queue_of(server, kernel_id),
        lambda queue: queue is not None and [e["cell_id"] for e in queue["queued"]] == cell_ids,
        lambda queue: f"the server did not queue {cell_ids}: {queue}",
    )


# --- tests ----------------------------------------------------------------------------------


def test_remove_a_queued_cell_from_the_context_menu(
    sc_lab_server: LabServer, sc_page: Page, notebook: NotebookFile, tmp_path: Path
) -> None:
    page = sc_page
    open_notebook(page, sc_lab_server, "sc-queue", notebook.path)
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
    open_notebook(page, sc_lab_server, "sc-queue", notebook.path)
    run_cell(page, 0)
    expect(prompt(page, 0)).to_have_text("[*]:")

    item = context_menu_item(page, 0)
    expect(item).to_be_visible()
    expect(item).to_have_class(re.compile(r"\blm-mod-disabled\b"))
    page.keyboard.press("Escape")
    notebook.release.touch()
    expect(prompt(page, 0)).to_have_text("[1]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 0)).to_contain_text("slept")
