"""Diagnostics from JupyterLab: "Check Notebook" underlines what ruff finds on the right range
of the right cell, hover shows the message and a "Fix", the fix is one undo step, the toolbar
counts the problems, and typing goes on while checks are out (stale answers are dropped).

Cell sources are read from the CodeMirror lines of the page; the underlines are CodeMirror's
lint marks (`@codemirror/lint`), the tooltip the one it shows on hover.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from .harness import LabServer
from .pages import Files, Pages, wait_kernel_idle

pytestmark = pytest.mark.ui

LINT_PLUGIN = "jupyter-sidecar-ext:lint"
LINT_URL = "/api/sidecar/lint"
CHECK_TIMEOUT_MS = 30_000

IMPORTS = "import os\nimport sys"  # os unused (F401, fixable); sys used by the next cell
USES_SYS = "print(sys.argv)"
NONE_COMPARISON = "x = 1\nif x == None:\n    pass"  # E711, no safe fix
PLAIN_F_STRING = 'print(sys.argv, f"done")'  # F541, fixable

# JavaScript: the source of the i-th cell of the page's notebook, from its editor's lines.
CELL_SOURCE_JS = """([index]) => {
    const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[index];
    const lines = cell.querySelectorAll('.jp-InputArea-editor .cm-line');
    return Array.from(lines, line => line.textContent).join('\\n');
}"""


@pytest.fixture
def lint_settings(sc_lab_server: LabServer) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Set the lint plugin's settings for pages opened afterwards; defaults after."""
    path = sc_lab_server.settings_path(LINT_PLUGIN)
    yield lambda values: sc_lab_server.write_settings(LINT_PLUGIN, values)
    path.unlink(missing_ok=True)


def run_from_palette(page: Page, label: str) -> None:
    page.get_by_role("menuitem", name="View").click()
    page.get_by_role("menuitem", name="Activate Command Palette").click()
    palette = page.locator(".jp-ModalCommandPalette")
    palette.locator("input").fill(label)
    palette.locator(".lm-CommandPalette-item", has_text=label).first.click()


def cell(page: Page, index: int) -> Locator:
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(index)


def editor(page: Page, index: int) -> Locator:
    return cell(page, index).locator(".jp-InputArea-editor")


def marks(page: Page, index: int) -> Locator:
    """The underlined ranges of a cell."""
    return editor(page, index).locator(".cm-lintRange")


def count_button(page: Page) -> Locator:
    """The notebook toolbar's "Check" button, which then shows the count of problems."""
    return page.locator(".jp-NotebookPanel-toolbar .jp-Sidecar-diagnosticCount button")


def expect_source(page: Page, index: int, expected: str) -> None:
    """Wait until the cell's editor shows exactly `expected`."""
    page.wait_for_function(
        f"([index, expected]) => ({CELL_SOURCE_JS})([index]) === expected",
        arg=[index, expected],
        timeout=CHECK_TIMEOUT_MS,
    )


def is_check(route_or_body: Route) -> bool:
    body = route_or_body.request.post_data_json or {}
    return bool(body.get("check"))


def wait_until(page: Page, done: Callable[[], bool], what: str) -> None:
    """Let the page run (it delivers routed requests to the test) until `done` holds."""
    deadline = time.monotonic() + CHECK_TIMEOUT_MS / 1000
    while not done():
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out waiting for {what}")
        page.wait_for_timeout(50)


def test_check_notebook_underlines_and_fixes_in_one_undo_step(
    sc_files: Files, sc_pages: Pages
) -> None:
    """Check Notebook (cell context menu) underlines `os` (F401) in cell 1 and `None` (E711)
    in cell 3, not `sys` (used in cell 2); hover shows the code and message and a Fix; the
    fix removes the import, one Ctrl+Z brings it back, and the edit is checked again."""
    path = sc_files.notebook(
        "check", ("code", IMPORTS), ("code", USES_SYS), ("code", NONE_COMPARISON)
    )
    page = sc_pages.open(path)
    expect(count_button(page)).to_have_text("Check")

    cell(page, 0).locator(".jp-InputPrompt").click(button="right")
    page.locator(".lm-Menu").get_by_text("Check Notebook", exact=True).click()

    expect(count_button(page)).to_have_text("2 problems", timeout=CHECK_TIMEOUT_MS)
    expect(marks(page, 0)).to_have_text(["os"])  # line 1, `import os`: only `os`
    expect(editor(page, 0).locator(".cm-line").first.locator(".cm-lintRange")).to_have_count(1)
    expect(marks(page, 1)).to_have_count(0)
    expect(marks(page, 2)).to_have_text(["None"])
    expect(editor(page, 0).locator(".cm-lint-marker-warning")).to_have_count(1)
    expect(editor(page, 2).locator(".cm-lint-marker-warning")).to_have_count(1)

    # Hover: the message with its code; E711 has no safe fix, F401 has one.
    marks(page, 2).hover()
    none_tip = page.locator(".cm-tooltip-lint", has_text="E711")
    expect(none_tip).to_contain_text("E711 Comparison to `None` should be `cond is None`")
    expect(none_tip.get_by_role("button", name="Fix")).to_have_count(0)
    marks(page, 0).hover()
    os_tip = page.locator(".cm-tooltip-lint", has_text="F401")
    expect(os_tip).to_contain_text("F401 `os` imported but unused")
    os_tip.get_by_role("button", name="Fix").click()

    expect_source(page, 0, "import sys")
    expect(count_button(page)).to_have_text("1 problem", timeout=CHECK_TIMEOUT_MS)
    expect(marks(page, 0)).to_have_count(0)

    # One undo step brings the import back; the pause after the edit checks it again.
    editor(page, 0).click()
    page.keyboard.press("Control+z")
    expect_source(page, 0, IMPORTS)
    expect(count_button(page)).to_have_text("2 problems", timeout=CHECK_TIMEOUT_MS)
    expect(marks(page, 0)).to_have_text(["os"])


def test_typing_goes_on_while_checks_are_out_and_stale_answers_are_dropped(
    sc_files: Files, sc_pages: Pages
) -> None:
    """With the server's answers held back, keypresses still appear in the cells; of two
    checks out at once, the answer of the older one is dropped even when it comes last."""
    path = sc_files.notebook(
        "check", ("code", IMPORTS), ("code", USES_SYS), ("code", NONE_COMPARISON)
    )
    page = sc_pages.open(path)
    count_button(page).click()
    expect(count_button(page)).to_have_text("2 problems", timeout=CHECK_TIMEOUT_MS)

    held: list[Route] = []
    page.route(
        f"**{LINT_URL}*",
        lambda route: held.append(route) if is_check(route) else route.continue_(),
    )

    # An edit in cell 3: after the pause, a check goes out (and is held).
    editor(page, 2).click()
    page.keyboard.press("Control+Home")
    page.keyboard.type("y = 2\n")
    wait_until(page, lambda: len(held) == 1, "the check after the first edit")

    # Typing while that check is out: every keypress shows. Cell 2 now uses `os`.
    editor(page, 1).click()
    page.keyboard.press("Control+End")
    page.keyboard.type("\nprint(os.sep)")
    expect_source(page, 2, "y = 2\n" + NONE_COMPARISON)
    expect_source(page, 1, USES_SYS + "\nprint(os.sep)")
    wait_until(page, lambda: len(held) == 2, "the check after the second edit")

    # The newer check answers first: `os` in cell 1 is no longer unused.
    held[1].continue_()
    expect(count_button(page)).to_have_text("1 problem", timeout=CHECK_TIMEOUT_MS)
    expect(marks(page, 0)).to_have_count(0)
    expect(marks(page, 2)).to_have_text(["None"])

    # The older one answers last, with `os` unused in cell 1 (unchanged since): dropped.
    held[0].continue_()
    sc_pages.wait_console(page, lambda line: "dropped the stale check" in line)
    expect(marks(page, 0)).to_have_count(0)
    expect(count_button(page)).to_have_text("1 problem")
    page.unroute(f"**{LINT_URL}*")


def test_fix_all_and_check_on_save(
    sc_files: Files, sc_pages: Pages, lint_settings: Callable[[dict[str, Any]], None]
) -> None:
    """With checkOnSave, saving checks the notebook; "Fix All in Notebook" applies every
    fix (each cell's own undo reverts its fixes: document-wide undo is off by default)."""
    lint_settings({"checkOnSave": True})
    path = sc_files.notebook("check", ("code", IMPORTS), ("code", PLAIN_F_STRING))
    page = sc_pages.open(path)
    wait_kernel_idle(page)
    expect(count_button(page)).to_have_text("Check")

    cell(page, 0).locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+s")
    expect(count_button(page)).to_have_text("2 problems", timeout=CHECK_TIMEOUT_MS)
    expect(marks(page, 0)).to_have_text(["os"])
    expect(marks(page, 1)).to_have_text(['f"done"'])

    run_from_palette(page, "Fix All in Notebook")
    expect_source(page, 0, "import sys")
    expect_source(page, 1, 'print(sys.argv, "done")')
    expect(count_button(page)).to_have_text("No problems", timeout=CHECK_TIMEOUT_MS)

    editor(page, 1).click()
    page.keyboard.press("Control+z")
    expect_source(page, 1, PLAIN_F_STRING)
    expect_source(page, 0, "import sys")
    expect(count_button(page)).to_have_text("1 problem", timeout=CHECK_TIMEOUT_MS)
