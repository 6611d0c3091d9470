"""Formatting from JupyterLab: the toolbar button, the shortcut, undo, errors on the failing
cell, format on save and the Python file editor, in a real browser.

Each test writes its files into the server's root_dir and opens them in a page of its own.
Cell sources are read from the CodeMirror lines of the page, and from the file on disk once
saved; expected sources are what isort then black give with their default settings.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import BrowserContext, Locator, Page, Request, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from .harness import LabServer
from .pages import Files, Pages, poll, wait_kernel_idle

pytestmark = pytest.mark.ui

LINT_PLUGIN = "jupyter-sidecar-ext:lint"
LINT_URL = "/api/sidecar/lint"
CONTENTS_URL = "/api/contents/"
FORMAT_BUTTON = '.jp-NotebookPanel-toolbar [data-command="sidecar:format-notebook"]'
SAVE_BUTTON = '.jp-NotebookPanel-toolbar [data-command="docmanager:save"]'
DIRTY = re.compile(r"\bjp-mod-dirty\b")
FORMAT_TIMEOUT_MS = 30_000

BAD = "x=[1,2 ,3]\nimport os,sys"
BAD_FORMATTED = "x = [1, 2, 3]\nimport os\nimport sys"
IMPORTS = "import sys,os\nprint( sys.path,os.sep )"
IMPORTS_FORMATTED = "import os\nimport sys\n\nprint(sys.path, os.sep)"
LINE_MAGIC = "%matplotlib inline\nimport sys,os\ny  =  {'a':1}"
LINE_MAGIC_FORMATTED = '%matplotlib inline\nimport os\nimport sys\n\ny = {"a": 1}'
CELL_MAGIC = "%%bash\necho  hi"  # not Python: left exactly as it is
BROKEN = "def f(:\n  pass"
MARKDOWN = "# Title\n\nsome  *text*"

# JavaScript: the source of the i-th cell of the page's notebook, from its editor's lines.
CELL_SOURCE_JS = """([index]) => {
    const cell = document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[index];
    const lines = cell.querySelectorAll('.jp-InputArea-editor .cm-line');
    return Array.from(lines, line => line.textContent).join('\\n');
}"""
EDITOR_SOURCE_JS = """() => {
    const lines = document.querySelectorAll('.jp-FileEditor .cm-line');
    return Array.from(lines, line => line.textContent).join('\\n');
}"""


# --- fixtures -----------------------------------------------------------------------------


@pytest.fixture
def lint_settings(sc_lab_server: LabServer) -> Iterator[Callable[[dict[str, Any]], None]]:
    """Set the formatting plugin's settings for pages opened afterwards; defaults after."""
    path = sc_lab_server.settings_path(LINT_PLUGIN)
    yield lambda values: sc_lab_server.write_settings(LINT_PLUGIN, values)
    path.unlink(missing_ok=True)


def saved_path(request: Request) -> str | None:
    """The path a request saves (a PUT of the contents API), else None."""
    url = request.url.split("?")[0]
    if request.method != "PUT" or CONTENTS_URL not in url:
        return None
    return unquote(url.split(CONTENTS_URL, 1)[1])


class LintPages(Pages):
    """Pages that also record the bodies of their lint requests, the order of their format
    and save requests, and their finished saves; they are loaded once an editor shows."""

    def __init__(self, browser: BrowserContext, server: LabServer, workspace: str) -> None:
        super().__init__(browser, server, workspace)
        self._lint_bodies: dict[int, list[Any]] = {}
        self._steps: dict[int, list[str]] = {}
        self._saved: dict[int, list[str]] = {}

    def watch(self, page: Page) -> None:
        bodies: list[Any] = []
        steps: list[str] = []
        saved: list[str] = []

        def record_request(request: Request) -> None:
            if request.method == "POST" and request.url.split("?")[0].endswith(LINT_URL):
                body: dict[str, Any] = request.post_data_json or {}
                bodies.append(body)
                if body.get("cells"):  # not the warm-up
                    steps.append("format")
            elif (target := saved_path(request)) is not None:
                steps.append(f"save {target}")

        def record_finished(request: Request) -> None:
            if (target := saved_path(request)) is not None:
                saved.append(target)

        page.on("request", record_request)
        page.on("requestfinished", record_finished)
        self._lint_bodies[id(page)] = bodies
        self._steps[id(page)] = steps
        self._saved[id(page)] = saved

    def loaded(self, page: Page) -> Locator:
        """A notebook's or a file editor's first line."""
        return page.locator(".jp-InputArea-editor .cm-line, .jp-FileEditor .cm-line").first

    def lint_bodies(self, page: Page) -> list[Any]:
        """Bodies of the lint requests the page sent so far, in order."""
        return self._lint_bodies[id(page)]

    def steps(self, page: Page) -> list[str]:
        """What the page asked the server so far, in order: `format` (a lint request with
        cells) and `save <path>` (a save request)."""
        return self._steps[id(page)]

    def wait_saved(self, page: Page, path: str, count: int) -> None:
        """Wait until `count` saves of `path` by the page are answered: the file is then
        written (the server rewrites it in place, so a file read during a save can be
        empty)."""
        saved = self._saved[id(page)]
        while saved.count(path) < count:
            page.wait_for_event(
                "requestfinished",
                predicate=lambda request: saved_path(request) == path,
                timeout=FORMAT_TIMEOUT_MS,
            )


def wait_saved_sources(files: Files, path: str, expected: list[str]) -> None:
    """Wait until the notebook on disk has these cell sources (a file read while it is being
    written may not parse yet)."""

    def read() -> list[str] | None:
        try:
            return files.saved_sources(path)
        except Exception:  # half-written
            return None

    poll(read, lambda sources: sources == expected, lambda sources: f"saved: {sources}")


@pytest.fixture
def sc_pages_class() -> type[Pages]:
    """`sc_pages` of this module records each page's lint and save requests."""
    return LintPages


# --- page helpers -----------------------------------------------------------------------------


def cell(page: Page, index: int) -> Locator:
    return page.locator(".jp-NotebookPanel .jp-Cell").nth(index)


def document_tab(page: Page, path: str) -> Locator:
    """The main area's tab of the document `path` (a file at the root: named by `path`)."""
    return page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=path)


def editor(page: Page, index: int) -> Locator:
    return cell(page, index).locator(".jp-InputArea-editor")


def cell_source(page: Page, index: int) -> str:
    source: str = page.evaluate(CELL_SOURCE_JS, [index])
    return source


def expect_source(page: Page, index: int, expected: str) -> None:
    """Wait until the cell's editor shows exactly `expected`."""
    with contextlib.suppress(PlaywrightTimeout):  # the assert below shows the difference
        page.wait_for_function(
            f"([index, expected]) => ({CELL_SOURCE_JS})([index]) === expected",
            arg=[index, expected],
            timeout=FORMAT_TIMEOUT_MS,
        )
    assert cell_source(page, index) == expected


def wait_format_on_save(page: Page) -> None:
    """Format on save is on, as a user can see it: the command palette shows the save
    shortcut beside "Format and Save". Call it once the notebook settled (kernel idle): the
    palette closes when the page moves the focus."""
    page.get_by_role("menuitem", name="View").click()
    page.get_by_role("menuitem", name="Activate Command Palette").click()
    palette = page.locator(".jp-ModalCommandPalette")
    expect(palette).to_be_visible()
    palette.locator("input").fill("Format and Save")
    item = palette.locator(".lm-CommandPalette-item", has_text="Format and Save")
    expect(item.locator(".lm-CommandPalette-itemShortcut")).to_have_text("Ctrl+S")
    page.keyboard.press("Escape")
    expect(palette).to_be_hidden()


# --- tests ------------------------------------------------------------------------------------


def test_toolbar_button_formats_the_notebook_and_undo_restores_it(
    sc_files: Files, sc_pages: LintPages, tmp_path: Path
) -> None:
    """Clicking the toolbar button formats every code cell exactly as isort + black do,
    leaves markdown alone, and one Ctrl+Z in the cell brings its source back."""
    path = sc_files.notebook("lint", ("code", BAD), ("markdown", MARKDOWN))
    page = sc_pages.open(path)
    expect(page.locator(FORMAT_BUTTON)).to_be_enabled()
    assert cell_source(page, 0) == BAD
    # The page warmed the server's formatters up with an empty request.
    page.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        f".some(entry => entry.name.includes('{LINT_URL}'))"
    )
    assert sc_pages.lint_bodies(page)[:1] == [{"cells": [], "tools": ["isort", "black"]}]

    # The cell context menu offers both commands.
    cell(page, 0).locator(".jp-InputPrompt").click(button="right")
    menu = page.locator(".lm-Menu")
    expect(menu.get_by_text("Format Cell(s)", exact=True)).to_be_visible()
    expect(menu.get_by_text("Format Notebook", exact=True)).to_be_visible()
    page.keyboard.press("Escape")

    page.locator(FORMAT_BUTTON).click()
    expect_source(page, 0, BAD_FORMATTED)
    assert sc_pages.lint_bodies(page)[1:] == [
        {
            "cells": [{"id": "cell-0", "source": BAD}],
            "path": path,
            "tools": ["isort", "black"],
        }
    ]
    expect(cell(page, 1).locator(".jp-RenderedMarkdown")).to_contain_text("some text")
    expect(page.locator(".jp-Sidecar-lintError")).to_have_count(0)
    page.screenshot(path=tmp_path / "formatted.png")

    # One undo step in the cell's own history (the edit was one transaction).
    editor(page, 0).click()
    page.keyboard.press("Control+z")
    expect_source(page, 0, BAD)
    page.keyboard.press("Control+Shift+z")
    expect_source(page, 0, BAD_FORMATTED)


def test_shortcut_magics_and_a_broken_cell(
    sc_files: Files, sc_pages: LintPages, tmp_path: Path
) -> None:
    """Alt+Shift+F formats the active cell only; then the button formats the rest: magics
    stay intact, a %%bash cell is untouched, and the broken cell shows its error on itself
    (no dialog) until it is edited, while the other cells are formatted."""
    path = sc_files.notebook(
        "lint", ("code", IMPORTS), ("code", LINE_MAGIC), ("code", CELL_MAGIC), ("code", BROKEN)
    )
    page = sc_pages.open(path)

    editor(page, 1).click()
    page.keyboard.press("Control+End")
    page.keyboard.press("Alt+Shift+F")
    expect_source(page, 1, LINE_MAGIC_FORMATTED)
    assert cell_source(page, 0) == IMPORTS  # not selected: not formatted
    # The cursor stayed at the end of the cell (the edit kept the common suffix).
    page.keyboard.type("  # end")
    expect_source(page, 1, LINE_MAGIC_FORMATTED + "  # end")

    page.locator(FORMAT_BUTTON).click()
    expect_source(page, 0, IMPORTS_FORMATTED)
    assert cell_source(page, 1) == LINE_MAGIC_FORMATTED + "  # end"
    assert cell_source(page, 2) == CELL_MAGIC
    assert cell_source(page, 3) == BROKEN
    note = cell(page, 3).locator(".jp-Sidecar-lintError")
    expect(note).to_be_visible()
    expect(note).to_contain_text("cannot parse")
    expect(page.locator(".jp-Sidecar-lintError")).to_have_count(1)
    expect(page.locator(".jp-Dialog")).to_have_count(0)
    page.screenshot(path=tmp_path / "error.png")

    # Editing the broken cell clears its error.
    editor(page, 3).click()
    page.keyboard.press("End")
    page.keyboard.type(" # fixed later")
    expect(note).to_have_count(0)


def test_format_on_save_and_the_python_file_editor(
    sc_files: Files,
    sc_pages: LintPages,
    lint_settings: Callable[[dict[str, Any]], None],
) -> None:
    """With formatOnSave, the save shortcut formats the notebook, then saves it once; the
    toolbar's save button is followed by a format and a second save; in a `.py` file editor,
    Alt+Shift+F formats the whole file."""
    lint_settings({"formatOnSave": True})
    # With real-time collaboration a page saves through the document's websocket: there is
    # no contents request to count, the file on disk tells.
    collaborative = sc_files.server.collaborative
    path = sc_files.notebook("lint", ("code", BAD), ("code", IMPORTS))
    page = sc_pages.open(path)
    wait_kernel_idle(page)
    wait_format_on_save(page)
    editor(page, 1).click()
    page.keyboard.press("Control+s")
    if collaborative:
        wait_saved_sources(sc_files, path, [BAD_FORMATTED, IMPORTS_FORMATTED])
        # A Playwright wait delivers the page's events (its requests) to the test.
        expect(document_tab(page, path)).not_to_have_class(DIRTY)
        assert sc_pages.steps(page) == ["format"]
    else:
        sc_pages.wait_saved(page, path, 1)
        assert sc_pages.steps(page) == ["format", f"save {path}"]  # formatted, then saved once
        assert sc_files.saved_sources(path) == [BAD_FORMATTED, IMPORTS_FORMATTED]
    expect_source(page, 0, BAD_FORMATTED)
    expect_source(page, 1, IMPORTS_FORMATTED)
    expect(document_tab(page, path)).not_to_have_class(DIRTY)

    # Saving from the toolbar: saved as typed, then formatted, then saved again.
    typed = IMPORTS_FORMATTED + "  ;z=1 +2"
    editor(page, 1).click()
    page.keyboard.press("Control+End")
    page.keyboard.type("  ;z=1 +2")
    page.locator(SAVE_BUTTON).click()
    if collaborative:
        wait_saved_sources(sc_files, path, [BAD_FORMATTED, IMPORTS_FORMATTED + "\nz = 1 + 2"])
        expect(document_tab(page, path)).not_to_have_class(DIRTY)
        assert sc_pages.steps(page) == ["format", "format"]
    else:
        sc_pages.wait_saved(page, path, 3)
        save = f"save {path}"
        assert sc_pages.steps(page) == ["format", save, save, "format", save]
    assert [cell["source"] for cell in sc_pages.lint_bodies(page)[-1]["cells"]] == [
        BAD_FORMATTED,
        typed,
    ]
    assert sc_files.saved_sources(path) == [BAD_FORMATTED, IMPORTS_FORMATTED + "\nz = 1 + 2"]
    expect_source(page, 1, IMPORTS_FORMATTED + "\nz = 1 + 2")
    expect(document_tab(page, path)).not_to_have_class(DIRTY)

    script = sc_files.text("lint", "script.py", IMPORTS + "\n")
    page = sc_pages.open(script)
    page.locator(".jp-FileEditor .cm-content").click()
    page.keyboard.press("Alt+Shift+F")
    page.wait_for_function(
        f"([expected]) => ({EDITOR_SOURCE_JS})() === expected",
        arg=[IMPORTS_FORMATTED + "\n"],
        timeout=FORMAT_TIMEOUT_MS,
    )
