"""Dataflow in the notebook: stale markers, hidden state, and the two plan commands (real
browser).

The notebook is `x = 1` / `y = x + 1` / `print(y)`. Re-running the first cell as `x = 5`
leaves the other two out of date: each shows the stale marker, with a tooltip naming the
cause, in this page and in a second page of the same notebook. "Run Cell and What Depends
on It" on the first cell runs the other two again (6 is printed); after a kernel restart,
"Run Cell and What It Needs" on the last cell runs all three. Deleting the defining cell
marks its reader as reading hidden state. In reactive mode every run runs its dependents.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import LabServer
from .pages import (
    LOAD_TIMEOUT_MS,
    RUN_TIMEOUT_MS,
    Files,
    Pages,
    code_cells,
    kernel_of,
    open_notebook,
    open_notebook7,
    outputs,
    poll,
    prompt,
    run_cell,
    wait_kernel_idle,
)

pytestmark = pytest.mark.ui

CELLS = ["x = 1", "y = x + 1", "print(y)"]
PLUGIN = "jupyter-sidecar-ext:dataflow"
NEEDS = "Run Cell and What It Needs"
DEPENDENTS = "Run Cell and What Depends on It"
NEEDS_BUTTON = '.jp-NotebookPanel-toolbar [data-command="sidecar:run-cell-and-needs"]'
MARKER = ".jp-SidecarDataflow-marker"
STALE_X = "`x` changed by cell [4] after this ran"
STALE_Y = "uses `y` from cell [2], which is out of date"


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def notebook(sc_files: Files) -> str:
    token = secrets.token_hex(4)
    ids = [f"{name}-{token}" for name in ("x", "y", "print")]
    return sc_files.notebook("dataflow", *[("code", source) for source in CELLS], ids=ids)


@pytest.fixture
def reactive_mode(sc_lab_server: LabServer) -> Iterator[None]:
    """Reactive mode on for pages opened afterwards; back to the default after."""
    sc_lab_server.write_settings(PLUGIN, {"reactive": True})
    yield
    sc_lab_server.settings_path(PLUGIN).unlink(missing_ok=True)


# --- page helpers ---------------------------------------------------------------------------


def marker(page: Page, index: int) -> Locator:
    return code_cells(page).nth(index).locator(MARKER)


def expect_stale(page: Page, index: int, tooltip: str) -> None:
    expect(marker(page, index)).to_have_attribute("title", tooltip, timeout=RUN_TIMEOUT_MS)
    expect(marker(page, index)).to_have_class(re.compile(r"\bjp-mod-stale\b"))
    expect(marker(page, index).locator("svg")).to_be_visible()


def wait_commands(page: Page) -> None:
    """The dataflow plugin heard the server offers dataflow: its toolbar buttons show."""
    expect(page.locator(NEEDS_BUTTON)).to_be_visible(timeout=LOAD_TIMEOUT_MS)


def open_page(pages: Pages, server: LabServer, path: str, *, notebook7: bool = False) -> Page:
    """A page of the notebook in JupyterLab (kernel idle) or in Notebook 7, commands there."""
    if notebook7:
        page = pages.new_page()
        open_notebook7(page, server, path)
    else:
        page = pages.new_page()
        open_notebook(page, server, "sc-dataflow", path)
    wait_commands(page)
    return page


def run_all(page: Page, first_count: int = 1) -> None:
    """Shift+Enter on each cell in a row; wait for their prompts. The first one ends before
    the others are asked: in Notebook 7 the kernel may not be ready yet, and a run held
    until it is can go after runs asked once its connection exists."""
    run_cell(page, 0)
    expect(prompt(page, 0)).to_have_text(f"[{first_count}]:", timeout=RUN_TIMEOUT_MS)
    for _ in range(len(CELLS) - 1):
        page.keyboard.press("Shift+Enter")
    for index in range(len(CELLS)):
        count = first_count + index
        expect(prompt(page, index)).to_have_text(f"[{count}]:", timeout=RUN_TIMEOUT_MS)


def rerun_first_as(page: Page, source: str) -> None:
    """Edit the first cell and run it where it is (Ctrl+Enter)."""
    code_cells(page).nth(0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+A")
    page.keyboard.type(source)
    page.keyboard.press("Control+Enter")


def from_context_menu(page: Page, index: int, label: str) -> None:
    prompt(page, index).click(button="right")
    page.locator(".lm-Menu .lm-Menu-item", has_text=label).click()


# --- tests ----------------------------------------------------------------------------------


def test_stale_markers_in_two_pages_and_run_what_depends(
    sc_lab_server: LabServer, sc_pages: Pages, notebook: str
) -> None:
    page = open_page(sc_pages, sc_lab_server, notebook)
    run_all(page)
    expect(outputs(page, 2)).to_have_text("2")
    second = open_page(sc_pages, sc_lab_server, notebook)
    expect(prompt(second, 2)).to_have_text("[3]:")  # restored, nothing ran
    for shown in (page, second):
        expect(marker(shown, 1)).to_have_count(0)
        expect(marker(shown, 2)).to_have_count(0)

    rerun_first_as(page, "x = 5")
    expect(prompt(page, 0)).to_have_text("[4]:", timeout=RUN_TIMEOUT_MS)
    for shown in (page, second):
        expect_stale(shown, 1, STALE_X)
        expect_stale(shown, 2, STALE_Y)
    expect(marker(page, 0)).to_have_count(0)  # it ran as it reads now
    # Reactive mode is off by default: the dependents did not run.
    expect(prompt(page, 1)).to_have_text("[2]:")
    expect(prompt(page, 2)).to_have_text("[3]:")

    from_context_menu(page, 0, DEPENDENTS)
    for index, count in enumerate((5, 6, 7)):
        expect(prompt(page, index)).to_have_text(f"[{count}]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 2)).to_have_text("6")
    for shown in (page, second):
        expect(marker(shown, 1)).to_have_count(0, timeout=RUN_TIMEOUT_MS)
        expect(marker(shown, 2)).to_have_count(0, timeout=RUN_TIMEOUT_MS)


@pytest.mark.parametrize("notebook7", [False, True], ids=["lab", "notebook7"])
def test_run_what_it_needs_after_a_restart(
    sc_lab_server: LabServer, sc_pages: Pages, notebook: str, notebook7: bool
) -> None:
    page = open_page(sc_pages, sc_lab_server, notebook, notebook7=notebook7)
    run_all(page)
    run_all(page, first_count=4)
    kernel_id = kernel_of(sc_lab_server, notebook)
    before = run_of(sc_lab_server, kernel_id)
    status, answer = sc_lab_server.request("POST", f"api/kernels/{kernel_id}/restart")
    assert status == 200, answer
    poll(
        lambda: run_of(sc_lab_server, kernel_id),
        lambda run: run > before,
        lambda run: f"the sidecar did not see the restart (run {run})",
    )
    if not notebook7:
        wait_kernel_idle(page)

    if notebook7:
        prompt(page, 2).click()  # the last cell is active
        page.locator(NEEDS_BUTTON).click()
    else:  # the shortcut, from the cell's editor: it runs, it types nothing
        code_cells(page).nth(2).locator(".jp-InputArea-editor").click()
        page.keyboard.press("Control+Shift+Enter")
    for index in range(len(CELLS)):
        expect(prompt(page, index)).to_have_text(f"[{index + 1}]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 2)).to_have_text("2")
    lines = code_cells(page).nth(2).locator(".jp-InputArea-editor .cm-line")
    expect(lines).to_have_text(["print(y)"])  # one line: the shortcut typed no newline


def test_an_edit_and_a_deleted_defining_cell_are_marked(
    sc_lab_server: LabServer, sc_pages: Pages, notebook: str
) -> None:
    page = open_page(sc_pages, sc_lab_server, notebook)
    run_all(page)
    code_cells(page).nth(2).locator(".jp-InputArea-editor").click()
    page.keyboard.press("End")
    page.keyboard.type("  # edited")
    expect_stale(page, 2, "edited since it ran")
    from_context_menu(page, 0, "Delete Cell")
    expect(code_cells(page).nth(0)).to_contain_text("y = x + 1")
    hidden = marker(page, 0)
    expect(hidden).to_have_attribute(
        "title", "uses `x`, which no cell of this notebook defines", timeout=RUN_TIMEOUT_MS
    )
    expect(hidden).to_have_class(re.compile(r"\bjp-mod-hidden\b"))
    # `y` is still defined by a cell: only the edit shows.
    expect(marker(page, 1)).to_have_attribute("title", "edited since it ran")


@pytest.mark.usefixtures("reactive_mode")
def test_reactive_mode_runs_the_dependents(
    sc_lab_server: LabServer, sc_pages: Pages, notebook: str
) -> None:
    page = open_page(sc_pages, sc_lab_server, notebook)
    page.locator(NEEDS_BUTTON).wait_for()
    code_cells(page).nth(0).locator(".jp-InputArea-editor").click()
    page.keyboard.press("Control+Enter")  # the first cell alone...
    for index in range(len(CELLS)):  # ...and its dependents
        expect(prompt(page, index)).to_have_text(f"[{index + 1}]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 2)).to_have_text("2")

    rerun_first_as(page, "x = 5")
    for index in range(len(CELLS)):
        expect(prompt(page, index)).to_have_text(f"[{index + 4}]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 2)).to_have_text("6")
    expect(page.locator(MARKER)).to_have_count(0, timeout=RUN_TIMEOUT_MS)


# --- server helpers -------------------------------------------------------------------------


def run_of(server: LabServer, kernel_id: str) -> int:
    """The kernel run (restarts counted) the sidecar records."""
    status, record = server.request("GET", f"api/sidecar/kernels/{kernel_id}/notebook")
    assert status == 200, record
    return int(record["run"])
