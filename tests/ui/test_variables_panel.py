"""The Variables sidebar shows the kernel's variables from the server's cache (real browser).

Cells run in a page, the page reloads, and the panel opened afterwards lists the
variables while the kernel runs nothing: the server's record of the kernel's executions
is the same before the reload and after the panel filled.
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
PANEL = ".jp-SidecarVariables"
LOAD_TIMEOUT_MS = 60_000
RUN_TIMEOUT_MS = 20_000
SERVER_TIMEOUT = 30.0
CELLS = ["a = 1", 's = "hello"', "big = list(range(1_000_000))"]
# Run after the reload: the kernel stays busy (and the snapshot behind it) until the test
# creates the flag file.
SLOW_CELL = "import os, time\nwhile not os.path.exists({flag!r}):\n    time.sleep(0.02)\nc = 3"


@dataclass(frozen=True)
class NotebookFile:
    path: str  # relative to the server's root_dir
    release: Path  # created by the test to end the slow cell


@pytest.fixture
def notebook(sc_lab_server: LabServer) -> Iterator[NotebookFile]:
    """A notebook defining a, s and big, then a slow cell; its sessions end afterwards."""
    sc_lab_server.ensure_running()
    token = secrets.token_hex(4)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    release = sc_lab_server.root_dir / f"release-{token}"
    slow = SLOW_CELL.format(flag=str(release))
    for index, source in enumerate([*CELLS, slow]):
        nb.cells.append(nbformat.v4.new_code_cell(source, id=f"cell{index}-{token}"))
    nbformat.validate(nb)
    path = f"variables-{token}.ipynb"
    nbformat.write(nb, sc_lab_server.root_dir / path)
    yield NotebookFile(path=path, release=release)
    if sc_lab_server.running:
        for session in _sessions(sc_lab_server, path):
            sc_lab_server.request("DELETE", f"api/sessions/{session['id']}")


# --- page helpers ---------------------------------------------------------------------------


def code_cells(page: Page) -> Locator:
    return page.locator(".jp-NotebookPanel .jp-CodeCell")


def prompt(page: Page, index: int) -> Locator:
    return code_cells(page).nth(index).locator(".jp-InputPrompt")


def wait_notebook_ready(page: Page) -> None:
    """The extension answered, the notebook shows, and its kernel is connected and idle."""
    page.wait_for_selector(READY, state="attached", timeout=LOAD_TIMEOUT_MS)
    code_cells(page).first.wait_for(timeout=LOAD_TIMEOUT_MS)
    status = page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle$"))
    status.wait_for(timeout=LOAD_TIMEOUT_MS)


def run_cell(page: Page, index: int) -> None:
    code_cells(page).nth(index).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")


def open_panel_from_sidebar(page: Page) -> Locator:
    """Click the panel's tab in the right sidebar, as a user does (a palette shortcut
    pressed while the reloaded page settles can go to no focused element)."""
    page.locator('.jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id="sidecar-variables"]').click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    return panel


def row(panel: Locator, name: str) -> Locator:
    return panel.locator(f'tbody tr[data-name="{name}"]')


def cell_text(panel: Locator, name: str, column: str) -> Locator:
    return row(panel, name).locator(f'td[data-column="{column}"]')


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


def executions(server: LabServer, kernel_id: str) -> list[tuple[str, int | None]]:
    """What the server recorded the kernel running: (source, execution_count) each."""
    status, record = server.request("GET", f"api/sidecar/kernels/{kernel_id}/notebook")
    assert status == 200, record
    return [(cell["source"], cell["execution_count"]) for cell in record["cells"]]


def wait_snapshot(server: LabServer, kernel_id: str, execution_count: int) -> dict[str, Any]:
    """Poll the server's cache until its snapshot includes that execution (bounded)."""
    deadline = time.monotonic() + SERVER_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        status, last = server.request("GET", f"api/sidecar/kernels/{kernel_id}/variables")
        if status == 200 and last["state"] == "ok" and last["execution_count"] == execution_count:
            return dict(last)
        time.sleep(0.2)
    raise AssertionError(f"no snapshot of execution {execution_count}: {last}")


# --- test -----------------------------------------------------------------------------------


def test_variables_panel_after_reload_runs_nothing(
    sc_lab_server: LabServer, sc_page: Page, notebook: NotebookFile, tmp_path: Path
) -> None:
    page = sc_page
    workspace = f"sc-variables-{secrets.token_hex(4)}"
    page.goto(sc_lab_server.lab_url(f"lab/workspaces/{workspace}/tree/{notebook.path}", reset=""))
    wait_notebook_ready(page)
    run_cell(page, 0)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    for index in range(len(CELLS)):
        expect(prompt(page, index)).to_have_text(f"[{index + 1}]:", timeout=RUN_TIMEOUT_MS)
    kernel_id = kernel_of(sc_lab_server, notebook.path)
    before = wait_snapshot(sc_lab_server, kernel_id, len(CELLS))
    recorded = executions(sc_lab_server, kernel_id)
    assert [count for _, count in recorded] == [1, 2, 3], recorded

    page.reload()
    wait_notebook_ready(page)
    panel = open_panel_from_sidebar(page)
    expect(panel).to_have_attribute("data-state", "ok")
    expect(row(panel, "a")).to_be_visible()
    expect(cell_text(panel, "a", "type")).to_have_text("int")
    expect(cell_text(panel, "a", "value")).to_have_text("1")
    expect(cell_text(panel, "s", "type")).to_have_text("str")
    expect(cell_text(panel, "s", "value")).to_have_text("'hello'")
    expect(cell_text(panel, "s", "shape")).to_have_text("5")
    expect(cell_text(panel, "s", "size")).to_have_text("5 B")
    expect(cell_text(panel, "big", "type")).to_have_text("list")
    expect(cell_text(panel, "big", "value")).to_contain_text("[0, 1, 2, 3")
    expect(panel).to_have_attribute("data-stale", "false")
    expect(panel).to_have_attribute("data-busy", "false")
    page.screenshot(path=tmp_path / "variables.png")
    # Nothing ran in the kernel since the reload: the same executions, the same snapshot.
    assert executions(sc_lab_server, kernel_id) == recorded
    status, after = sc_lab_server.request("GET", f"api/sidecar/kernels/{kernel_id}/variables")
    assert status == 200 and after["execution_count"] == before["execution_count"], after

    # Sort: by name (the default), again to reverse; by size (unknown sizes last).
    names = panel.locator('tbody td[data-column="name"]')
    expect(names).to_have_text(["a", "big", "s"])
    name_header = panel.locator('th[data-column="name"]')
    expect(name_header).to_have_attribute("aria-sort", "ascending")
    name_header.click()
    expect(name_header).to_have_attribute("aria-sort", "descending")
    expect(names).to_have_text(["s", "big", "a"])
    panel.locator('th[data-column="size"]').click()
    expect(names.first).to_have_text("s")
    # Filter: a substring of the name or of the type.
    filter_box = panel.locator("input[type=search]")
    filter_box.fill("STR")
    expect(names).to_have_text(["s"])
    filter_box.fill("bi")
    expect(names).to_have_text(["big"])
    filter_box.fill("")
    expect(names).to_have_count(3)

    # A row opens the variable's rich view in the main area.
    row(panel, "s").click()
    view = page.locator('.jp-SidecarVariableView[data-state="loaded"]')
    expect(view).to_be_visible()
    expect(view).to_contain_text("hello")
    expect(page.locator(".jp-MainAreaWidget .jp-SidecarVariableView")).to_have_count(1)
    page.screenshot(path=tmp_path / "rich-view.png")

    # A running cell: busy, and the snapshot marked stale until the server lists again.
    page.locator(".lm-TabBar-tab", has_text=notebook.path).first.click()
    run_cell(page, len(CELLS))
    expect(panel).to_have_attribute("data-busy", "true", timeout=RUN_TIMEOUT_MS)
    expect(panel).to_have_attribute("data-stale", "true")
    expect(panel.locator(".jp-SidecarVariables-stale")).to_be_visible()
    notebook.release.touch()
    expect(row(panel, "c")).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(cell_text(panel, "c", "value")).to_have_text("3")
    expect(panel).to_have_attribute("data-stale", "false")
    expect(panel).to_have_attribute("data-busy", "false")
