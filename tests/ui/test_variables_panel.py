"""The Variables sidebar shows the kernel's variables from the server's cache (real browser).

Cells run in a page, the page reloads, and the panel opened afterwards lists the
variables while the kernel runs nothing: the server's record of the kernel's executions
is the same before the reload and after the panel filled.
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
    poll,
    prompt,
    run_cell,
    wait_notebook_ready,
)

pytestmark = pytest.mark.ui

PANEL = ".jp-SidecarVariables"
CELLS = ["a = 1", 's = "hello"', "big = list(range(1_000_000))"]
# Run after the reload: the kernel stays busy (and the snapshot behind it) until the test
# creates the flag file.
SLOW_CELL = "import os, time\nwhile not os.path.exists({flag!r}):\n    time.sleep(0.02)\nc = 3"
QUIET_CELL = "1"  # changes no variable the panel lists
# Records, for each time a busy or stale badge showed, how long the panel had been busy or
# stale by then (ms): a badge shows only once its condition held for a moment (300 ms), so a
# quick cell shows none. The panel's data-busy/data-stale follow the model at once.
BADGES_WATCH = """panel => {
  panel.badgeShows = [];
  const since = { busy: null, stale: null };
  const kindOf = node =>
    node.classList.contains('jp-SidecarVariables-busy') ? 'busy'
      : node.classList.contains('jp-SidecarVariables-stale') ? 'stale' : null;
  new MutationObserver(records => {
    const now = performance.now();
    for (const record of records) {
      const name = record.attributeName;
      if (record.target === panel && (name === 'data-busy' || name === 'data-stale')) {
        const kind = name.slice(5);
        since[kind] = panel.dataset[kind] === 'true' ? (since[kind] ?? now) : null;
      } else if (name === 'hidden' && kindOf(record.target) && record.oldValue !== null) {
        const kind = kindOf(record.target);
        panel.badgeShows.push(since[kind] === null ? -1 : now - since[kind]);
      }
    }
  }).observe(panel, {
    attributes: true, attributeOldValue: true, subtree: true,
    attributeFilter: ['data-busy', 'data-stale', 'hidden'],
  });
}"""


@dataclass(frozen=True)
class NotebookFile:
    path: str  # relative to the server's root_dir
    release: Path  # created by the test to end the slow cell


@pytest.fixture
def notebook(sc_files: Files) -> NotebookFile:
    """A notebook defining a, s and big, then a slow cell; its sessions end afterwards."""
    token = secrets.token_hex(4)
    release = sc_files.server.root_dir / f"release-{token}"
    sources = [*CELLS, SLOW_CELL.format(flag=str(release)), QUIET_CELL]
    path = sc_files.notebook(
        "variables",
        *[("code", source) for source in sources],
        ids=[f"cell{index}-{token}" for index in range(len(sources))],
    )
    return NotebookFile(path=path, release=release)


# --- page helpers ---------------------------------------------------------------------------


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


def executions(server: LabServer, kernel_id: str) -> list[tuple[str, int | None]]:
    """What the server recorded the kernel running: (source, execution_count) each."""
    status, record = server.request("GET", f"api/sidecar/kernels/{kernel_id}/notebook")
    assert status == 200, record
    return [(cell["source"], cell["execution_count"]) for cell in record["cells"]]


def wait_snapshot(server: LabServer, kernel_id: str, execution_count: int) -> dict[str, Any]:
    """Poll the server's cache until its snapshot includes that execution (bounded)."""
    _, snapshot = poll(
        lambda: server.request("GET", f"api/sidecar/kernels/{kernel_id}/variables"),
        lambda answer: (
            answer[0] == 200
            and answer[1]["state"] == "ok"
            and answer[1]["execution_count"] == execution_count
        ),
        lambda answer: f"no snapshot of execution {execution_count}: {answer[1]}",
    )
    return dict(snapshot)


# --- test -----------------------------------------------------------------------------------


def test_variables_panel_after_reload_runs_nothing(
    sc_lab_server: LabServer, sc_page: Page, notebook: NotebookFile, tmp_path: Path
) -> None:
    page = sc_page
    open_notebook(page, sc_lab_server, "sc-variables", notebook.path)
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
    expect(cell_text(panel, "s", "shape")).to_have_text("5 chars")
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

    # A cell that changes no listed variable: the status line follows the kernel, the
    # table keeps its rows as they are (rebuilding them beside each run slowed the page).
    # Its snapshot kept its rows (the event's rows_version), so the page reads nothing again.
    # Nor do its busy and stale badges show: they wait until they held for a moment (a
    # quick cell would make them flicker, a layout and a paint beside each run).
    rows = panel.locator("tbody tr")
    rows.evaluate_all("trs => trs.forEach(tr => { tr.keptSinceMark = true; })")
    panel.evaluate(BADGES_WATCH)
    reads: list[str] = []
    variables_api = re.compile(r"/api/sidecar/kernels/[^/?]+/variables")
    page.on("request", lambda r: reads.append(r.url) if variables_api.search(r.url) else None)
    run_cell(page, len(CELLS) + 1)
    expect(prompt(page, len(CELLS) + 1)).to_have_text(f"[{len(CELLS) + 2}]:")
    wait_snapshot(sc_lab_server, kernel_id, len(CELLS) + 2)
    expect(panel).to_have_attribute("data-stale", "false")
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    assert rows.evaluate_all("trs => trs.every(tr => tr.keptSinceMark === true)")
    assert reads == [], reads
    shows = panel.evaluate("panel => panel.badgeShows")
    assert all(held >= 290 for held in shows), shows
    expect(rows).to_have_count(4)
