"""The Variables panel as an explorer (real browser, JupyterLab and Notebook 7).

A readable table (fitted columns that type and shape never overflow, resizable by a
header's edge, full texts on hover, keyboard navigation, copy value), drill-down into a
nested dict one level and one page at a time (an error shown for the failing child only),
and the Data Viewer paging through a 1,000,000-row DataFrame, sorted by the server.
Everything is read from the server; nothing runs in the kernel's shell.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Locator, Page, Request, expect

from .harness import LabServer
from .pages import (
    RUN_TIMEOUT_MS,
    Files,
    open_notebook,
    open_notebook7,
    poll,
    prompt,
    run_cell,
)

pytestmark = pytest.mark.ui

PANEL = ".jp-SidecarVariables"
FRONTENDS = ["lab", "notebook7"]

TABLE_CELL = """\
import numpy as np
import pandas as pd
frame = pd.DataFrame({"a": [1, 2], "b": [3.5, 4.5]})
matrix = np.arange(4).reshape(2, 2)
vector = np.zeros(4, dtype=np.float32)
s = "hello"
a_long_variable_name_here = [1, 2, 3]
"""

NESTED_CELL = """\
class Grumpy:
    def __repr__(self):
        raise ValueError("no repr today")

nested = {"inner": {"deep": [10, 20, {"leaf": "found"}]}, "many": list(range(250))}
holder = {"fine": 1, "grumpy": Grumpy()}
"""

FRAME_CELL = """\
import numpy as np
import pandas as pd
big = pd.DataFrame({"x": np.arange(1_000_000), "y": np.arange(1_000_000) % 7})
"""


# --- page helpers ---------------------------------------------------------------------------


def open_in(page: Page, server: LabServer, frontend: str, path: str) -> None:
    """Open the notebook in JupyterLab or in Notebook 7's notebook page."""
    if frontend == "lab":
        open_notebook(page, server, "sc-explorer", path)
    else:
        open_notebook7(page, server, path)


def run_all(page: Page, count: int) -> None:
    run_cell(page, 0)
    for _ in range(count - 1):
        page.keyboard.press("Shift+Enter")
    for index in range(count):
        expect(prompt(page, index)).to_have_text(f"[{index + 1}]:", timeout=RUN_TIMEOUT_MS)


def open_panel(page: Page, frontend: str) -> Locator:
    """Show the Variables panel: its tab in JupyterLab's right sidebar; in Notebook 7,
    the View menu's right sidebar entry."""
    if frontend == "lab":
        page.locator('.jp-SideBar.jp-mod-right .lm-TabBar-tab[data-id="sidecar-variables"]').click()
    else:
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^View$")).click()
        page.locator(".lm-Menu-itemLabel", has_text="Right Sidebar").hover()
        page.locator(".lm-Menu-itemLabel", has_text="Show Variables").click()
    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-state", "ok", timeout=RUN_TIMEOUT_MS)
    return panel


def row(panel: Locator, name: str) -> Locator:
    return panel.locator(f'tbody tr[data-name="{name}"]')


def cell(panel: Locator, name: str, column: str) -> Locator:
    return row(panel, name).locator(f'td[data-column="{column}"]')


def child(panel: Locator, key: str, level: int) -> Locator:
    """The row of a child shown under an expanded item, by its key's text."""
    return panel.locator(f'tbody tr[aria-level="{level}"]').filter(
        has=panel.page.locator('td[data-column="name"]', has_text=re.compile(f"^{re.escape(key)}$"))
    )


def overflows(locator: Locator) -> bool:
    """Whether the cell's text is cut (wider than the cell shows)."""
    return bool(locator.evaluate("node => node.scrollWidth > node.clientWidth"))


def clipboard(page: Page) -> str:
    return str(page.evaluate("navigator.clipboard.readText()"))


@pytest.fixture
def granted(sc_page: Page, sc_lab_server: LabServer) -> Iterator[Page]:
    """The page, allowed to read and write the clipboard (copy value, the grid's Ctrl+C)."""
    sc_page.context.grant_permissions(
        ["clipboard-read", "clipboard-write"], origin=sc_lab_server.url.rstrip("/")
    )
    yield sc_page
    sc_page.context.clear_permissions()


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_table_fits_resizes_and_copies(
    sc_lab_server: LabServer, granted: Page, sc_files: Files, frontend: str
) -> None:
    page = granted
    path = sc_files.notebook("explorer-table", ("code", TABLE_CELL))
    open_in(page, sc_lab_server, frontend, path)
    run_all(page, 1)
    panel = open_panel(page, frontend)

    # Units, and type and shape never cut in the default sidebar width.
    expect(cell(panel, "frame", "shape")).to_have_text("2 rows x 2 cols")
    expect(cell(panel, "frame", "type")).to_have_text("DataFrame")
    expect(cell(panel, "matrix", "shape")).to_have_text("(2, 2)")
    expect(cell(panel, "vector", "shape")).to_have_text("(4,)")
    expect(cell(panel, "vector", "size")).to_have_text("16 B")
    expect(cell(panel, "s", "shape")).to_have_text("5 chars")
    for name in ["frame", "matrix", "vector", "s", "a_long_variable_name_here"]:
        for column in ["type", "shape", "size"]:
            assert not overflows(cell(panel, name, column)), (name, column)
    # Full texts on hover: the long name is cut, its title is whole; headers say what they do.
    long_name = cell(panel, "a_long_variable_name_here", "name")
    assert overflows(long_name)
    expect(long_name).to_have_attribute("title", "a_long_variable_name_here")
    expect(cell(panel, "a_long_variable_name_here", "value")).to_have_attribute(
        "title", "[1, 2, 3]"
    )
    expect(panel.locator('th[data-column="shape"]')).to_have_attribute(
        "title", re.compile("^Shape: click to sort")
    )

    # Drag the Name header's edge: the column widens, the long name shows whole.
    header = panel.locator('th[data-column="name"]')
    before = header.bounding_box()
    edge = header.locator(".jp-SidecarVariables-resizer").bounding_box()
    assert before and edge
    page.mouse.move(edge["x"] + edge["width"] / 2, edge["y"] + edge["height"] / 2)
    page.mouse.down()
    page.mouse.move(edge["x"] + 200, edge["y"] + edge["height"] / 2, steps=5)
    page.mouse.up()
    after = header.bounding_box()
    assert after and after["width"] >= before["width"] + 150, (before, after)
    assert not overflows(long_name)
    expect(header).not_to_have_attribute("aria-sort", "descending")  # a drag is no sort

    # Keyboard: arrows move the selection, Ctrl+C copies the selected value.
    row(panel, "frame").focus()
    page.keyboard.press("ArrowDown")
    expect(row(panel, "matrix")).to_have_attribute("aria-selected", "true")
    expect(row(panel, "matrix")).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(row(panel, "s")).to_be_focused()
    expect(row(panel, "matrix")).to_have_attribute("aria-selected", "false")
    page.keyboard.press("Control+c")
    assert_clipboard(page, "'hello'")
    # The context menu's Copy Value on another row.
    row(panel, "a_long_variable_name_here").click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Copy Value").click()
    assert_clipboard(page, "[1, 2, 3]")


def assert_clipboard(page: Page, text: str) -> None:
    """The clipboard holds `text` (the copy is asynchronous)."""
    poll(lambda: clipboard(page), lambda held: held == text, lambda held: f"clipboard: {held!r}")


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_drill_down_into_a_nested_dict(
    sc_lab_server: LabServer, sc_page: Page, sc_files: Files, frontend: str, tmp_path: Path
) -> None:
    page = sc_page
    path = sc_files.notebook("explorer-nested", ("code", NESTED_CELL))
    open_in(page, sc_lab_server, frontend, path)
    run_all(page, 1)
    panel = open_panel(page, frontend)

    nested = row(panel, "nested")
    expect(nested).to_have_attribute("aria-expanded", "false")
    nested.locator(".jp-SidecarVariables-chevron").click()
    expect(nested).to_have_attribute("aria-expanded", "true")
    inner = child(panel, "inner", 2)
    expect(inner).to_be_visible()
    expect(inner.locator('td[data-column="type"]')).to_have_text("dict")
    # One level at a time: nothing of `deep` until `inner` is expanded.
    expect(child(panel, "deep", 3)).to_have_count(0)
    inner.locator(".jp-SidecarVariables-chevron").click()
    deep = child(panel, "deep", 3)
    expect(deep.locator('td[data-column="type"]')).to_have_text("list")
    # Keyboard: Right expands the selected row, Down moves into its children.
    deep.focus()
    page.keyboard.press("ArrowRight")
    expect(child(panel, "[0]", 4).locator('td[data-column="value"]')).to_have_text("10")
    page.keyboard.press("ArrowDown")
    expect(child(panel, "[0]", 4)).to_be_focused()
    child(panel, "[2]", 4).locator(".jp-SidecarVariables-chevron").click()
    expect(child(panel, "leaf", 5).locator('td[data-column="value"]')).to_have_text("'found'")

    # Paged: the first 100 of 250 items, then a "more" row.
    many = child(panel, "many", 2)
    many.locator(".jp-SidecarVariables-chevron").click()
    more = panel.locator('tbody tr[data-kind="more"]')
    expect(more).to_have_text(re.compile(r"Show 100 more \(100 of 250\)"))
    expect(child(panel, "[99]", 3)).to_be_visible()
    expect(child(panel, "[100]", 3)).to_have_count(0)
    more.click()
    expect(child(panel, "[199]", 3)).to_be_visible()
    expect(more).to_have_text(re.compile(r"Show 50 more \(200 of 250\)"))

    # A raising __repr__: an error for that child only.
    holder = row(panel, "holder")
    holder.locator(".jp-SidecarVariables-chevron").click()
    grumpy = child(panel, "grumpy", 2)
    expect(grumpy).to_have_attribute("data-error", "true")
    expect(grumpy.locator('td[data-column="value"]')).to_contain_text("no repr today")
    expect(child(panel, "fine", 2).locator('td[data-column="value"]')).to_have_text("1")
    expect(child(panel, "fine", 2)).not_to_have_attribute("data-error", "true")
    page.screenshot(path=tmp_path / f"drill-down-{frontend}.png")
    # Collapse hides the children again.
    nested.locator(".jp-SidecarVariables-chevron").click()
    expect(child(panel, "inner", 2)).to_have_count(0)


@pytest.mark.parametrize("frontend", FRONTENDS)
def test_data_viewer_pages_a_million_rows(
    sc_lab_server: LabServer, granted: Page, sc_files: Files, frontend: str, tmp_path: Path
) -> None:
    page = granted
    asked: list[dict[str, list[str]]] = []

    def record(request: Request) -> None:
        if "/rows?" in request.url:
            asked.append(parse_qs(urlparse(request.url).query))

    page.on("request", record)
    path = sc_files.notebook("explorer-frame", ("code", FRAME_CELL), ("code", "big = big.head(10)"))
    open_in(page, sc_lab_server, frontend, path)
    run_cell(page, 0)
    expect(prompt(page, 0)).to_have_text("[1]:", timeout=RUN_TIMEOUT_MS)
    panel = open_panel(page, frontend)
    expect(cell(panel, "big", "shape")).to_have_text("1,000,000 rows x 2 cols")

    row(panel, "big").locator(".jp-SidecarVariables-openData").click()
    viewer = page.locator(".jp-SidecarDataViewer")
    status = viewer.locator(".jp-SidecarDataViewer-status")
    expect(status).to_have_text("1,000,000 rows x 2 columns", timeout=RUN_TIMEOUT_MS)
    grid = viewer.locator(".jp-SidecarDataViewer-grid")
    expect(grid).to_be_visible()

    # The first body cell holds row 0 (copied with the grid's own Ctrl+C).
    assert_cell(page, grid, "0")
    # A click on a header sorts on the server: twice on x is descending.
    click_header(grid, 0)
    expect(status).to_contain_text("sorted by x, ascending")
    click_header(grid, 0)
    expect(status).to_contain_text("sorted by x, descending")
    assert_cell(page, grid, "999999")
    page.screenshot(path=tmp_path / f"data-viewer-{frontend}.png")
    # Pages of at most 100 rows were read, a few of them: never the whole frame.
    assert asked, "no page was asked for"
    assert all(int(query["limit"][0]) <= 100 for query in asked), asked
    assert len(asked) < 30, len(asked)
    assert any(query.get("ascending") == ["false"] for query in asked), asked

    # A new execution: the viewer follows (read again when the server lists variables).
    run_cell(page, 1)
    expect(status).to_contain_text("10 rows x 2 columns", timeout=RUN_TIMEOUT_MS)


GRID_ROW_HEADER = 80
GRID_ROW = 22


def click_header(grid: Locator, column: int) -> None:
    box = grid.bounding_box()
    assert box
    grid.page.mouse.click(box["x"] + GRID_ROW_HEADER + 110 * column + 50, box["y"] + 10)


def assert_cell(page: Page, grid: Locator, text: str) -> None:
    """Select the first body cell and copy it until it shows `text` (pages load async)."""
    box = grid.bounding_box()
    assert box
    x, y = box["x"] + GRID_ROW_HEADER + 50, box["y"] + 2 * GRID_ROW + GRID_ROW / 2

    def copy() -> str:
        page.mouse.click(x, y)
        page.keyboard.press("Control+c")
        return clipboard(page)

    poll(copy, lambda held: held == text, lambda held: f"first cell: {held!r}, not {text!r}")
