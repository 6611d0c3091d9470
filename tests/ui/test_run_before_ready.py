"""No run silently dropped: Shift+Enter before the kernel is ready (real browser).

JupyterLab (and Notebook 7) ignore a run issued while the notebook's session is still
"Initializing": the prompt stays `[ ]`. The labextension holds it and sends it once the
kernel is ready. To press before the kernel is ready whatever the machine's speed, the
page's request that creates the session (`POST api/sessions`) is held by the test until both
cells were run; the cells show `[*]` meanwhile, then run in order.

The runs are pressed once the page names the kernel it is starting (the toolbar's kernel
name): before that, for the first moments of the page, JupyterLab's executor does not
schedule a run at all: it first starts a kernel itself and runs the cell if that gives it one
(no `[*]` meanwhile: nothing the extension can see; README "Outputs never lost in JupyterLab").
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from .harness import LabServer
from .pages import (
    LOAD_TIMEOUT_MS,
    RUN_TIMEOUT_MS,
    Files,
    Pages,
    code_cells,
    goto_workspace,
    outputs,
    prompt,
    run_cell,
)

pytestmark = pytest.mark.ui

SESSIONS = re.compile(r"/api/sessions/?(\?.*)?$")
FIRST = "import time\nstarted = time.time()\nprint('first ran')"
SECOND = "print('second ran', started > 0)"
KERNEL_NAME = re.compile(r"Python 3|python3")  # its display name, or its name before the specs


class SessionGate:
    """Holds the page's `POST api/sessions` (the session, and so the kernel, are not there
    until `open()`); every other request goes through."""

    def __init__(self, page: Page) -> None:
        self.held: list[Route] = []
        self.opened = False
        page.route(SESSIONS, self._route)

    def _route(self, route: Route) -> None:
        if route.request.method == "POST" and not self.opened:
            self.held.append(route)
        else:
            route.continue_()

    def open(self) -> None:
        self.opened = True
        for route in self.held:
            route.continue_()
        self.held.clear()


def open_lab(page: Page, server: LabServer, path: str) -> None:
    goto_workspace(page, server, "sc-run-before-ready", path)


def open_notebook7(page: Page, server: LabServer, path: str) -> None:
    page.goto(server.lab_url(f"notebooks/{path}"))


@pytest.mark.parametrize("opener", [open_lab, open_notebook7], ids=["lab", "notebook7"])
def test_shift_enter_before_the_kernel_is_ready_runs_both_in_order(
    sc_lab_server: LabServer,
    sc_pages: Pages,
    sc_files: Files,
    opener: Callable[[Page, LabServer, str], Any],
) -> None:
    path = sc_files.notebook("early", ("code", FIRST), ("code", SECOND))
    page = sc_pages.new_page()
    gate = SessionGate(page)
    opener(page, sc_lab_server, path)
    code_cells(page).nth(1).wait_for(timeout=LOAD_TIMEOUT_MS)
    kernel_name = page.locator(".jp-NotebookPanel .jp-Toolbar-kernelName")
    expect(kernel_name).to_have_text(KERNEL_NAME, timeout=LOAD_TIMEOUT_MS)
    run_cell(page, 0)  # Shift+Enter runs the first, the second becomes active
    page.keyboard.press("Shift+Enter")
    # Held, shown as waiting at once, though no kernel can take them yet.
    expect(prompt(page, 0)).to_have_text("[*]:")
    expect(prompt(page, 1)).to_have_text("[*]:")

    gate.open()
    expect(prompt(page, 0)).to_have_text("[1]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 0)).to_have_text("first ran")
    expect(prompt(page, 1)).to_have_text("[2]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 1)).to_have_text("second ran True")
    assert any("holding a run" in line for line in sc_pages.console(page))
