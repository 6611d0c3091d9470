"""What ran while you were away (real browser).

A page runs two cells and closes while the first still runs; both end with no page of the
kernel connected (one succeeds, one fails). The page that opens the notebook next says so in
a JupyterLab notification, "2 cells finished, 1 failed: [2] ZeroDivisionError", whose
"Go to cell" action selects the failed cell; a page opened after that says nothing again
(each run is announced once per browser). In JupyterLab and Notebook 7, with real-time
collaboration off and on (`sc_lab_server`'s two modes).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

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
    outputs,
    poll,
    prompt,
    run_cell,
    wait_kernel_idle,
)
from .pages import (
    open_notebook7 as open_notebook7_page,
)

pytestmark = pytest.mark.ui

FINAL_STATUSES = {"ok", "error", "aborted"}


def slow_cell(flag: Path) -> str:
    """Prints, then waits until the test creates `flag`: still running when the page closes."""
    return (
        "import os, time\n"
        "print('started', flush=True)\n"
        f"while not os.path.exists({str(flag)!r}):\n"
        "    time.sleep(0.02)\n"
        "print('done')"
    )


def toast(page: Page, text: str) -> Locator:
    return page.locator(".Toastify__toast", has_text=text)


def active_cell_index(page: Page) -> int:
    index: int = page.evaluate(
        """() => [...document.querySelectorAll('.jp-NotebookPanel .jp-Cell')]
            .findIndex(cell => cell.classList.contains('jp-mod-active'))"""
    )
    return index


def open_lab(pages: Pages, server: LabServer, path: str) -> Page:
    return pages.open(path)


def open_notebook7(pages: Pages, server: LabServer, path: str) -> Page:
    page = pages.new_page()
    open_notebook7_page(page, server, path)
    return page


def wait_ended_unwatched(server: LabServer, kernel_id: str, cell_id: str) -> dict[str, Any]:
    """Poll the server's record until the cell's run ended, nobody watching (the flag is
    set with the batch of changes after the end, a few tens of milliseconds later)."""
    _, cell = poll(
        lambda: server.request("GET", f"api/sidecar/kernels/{kernel_id}/cells/{cell_id}"),
        lambda answer: (
            answer[0] == 200 and answer[1]["status"] in FINAL_STATUSES and answer[1]["unwatched"]
        ),
        lambda answer: f"cell {cell_id} did not end unwatched: {answer}",
    )
    return dict(cell)


@pytest.mark.parametrize("reopen", [open_lab, open_notebook7], ids=["lab", "notebook7"])
def test_a_reopened_page_says_what_finished_while_away(
    sc_lab_server: LabServer,
    sc_files: Files,
    sc_pages: Pages,
    tmp_path: Path,
    reopen: Callable[[Pages, LabServer, str], Page],
) -> None:
    token = secrets.token_hex(4)
    flag = sc_lab_server.root_dir / f"release-{token}"
    ids = [f"slow-{token}", f"fails-{token}"]
    path = sc_files.notebook("away", ("code", slow_cell(flag)), ("code", "1 / 0"), ids=ids)
    first = sc_pages.open(path)
    wait_kernel_idle(first)
    run_cell(first, 0)
    first.keyboard.press("Shift+Enter")  # the failing cell, queued behind the slow one
    expect(outputs(first, 0).first).to_contain_text("started", timeout=RUN_TIMEOUT_MS)
    expect(prompt(first, 1)).to_have_text("[*]:")
    first.close()

    kernel_id = kernel_of(sc_lab_server, path)
    poll(  # the server saw the page go: what ends now, nobody watches
        lambda: sc_lab_server.request("GET", f"api/kernels/{kernel_id}"),
        lambda answer: answer[0] == 200 and answer[1]["connections"] == 0,
        lambda answer: f"the closed page's websocket is still counted: {answer}",
    )
    flag.touch()
    slow, fails = (wait_ended_unwatched(sc_lab_server, kernel_id, cell_id) for cell_id in ids)
    assert (slow["status"], fails["status"]) == ("ok", "error"), (slow, fails)

    second = reopen(sc_pages, sc_lab_server, path)
    summary = toast(second, "2 cells finished")
    expect(summary).to_contain_text(
        f"{path}: 2 cells finished, 1 failed: [{fails['execution_count']}] ZeroDivisionError",
        timeout=LOAD_TIMEOUT_MS,
    )
    second.screenshot(path=tmp_path / "away-summary.png")
    expect(prompt(second, 1)).to_have_text(re.compile(rf"\[{fails['execution_count']}\]"))
    assert active_cell_index(second) == 0
    summary.get_by_role("button", name="Go to cell").click()
    second.wait_for_function(
        """() => document.querySelectorAll('.jp-NotebookPanel .jp-Cell')[1]
            ?.classList.contains('jp-mod-active')""",
        timeout=RUN_TIMEOUT_MS,
    )
    expect(code_cells(second).nth(1)).to_be_in_viewport()

    # Announced once: a page opened later (same browser) reads the record and says nothing.
    third = reopen(sc_pages, sc_lab_server, path)
    expect(prompt(third, 1)).to_have_text(re.compile(rf"\[{fails['execution_count']}\]"))
    said = (f"restored outputs in {path} (", f"outputs of {path} are")  # read the record
    sc_pages.wait_console(third, lambda line: any(text in line for text in said))
    expect(toast(third, "cells finished")).to_have_count(0)


# Headless Chromium always reports its pages visible: the page is told it is hidden (once
# loaded, `window.__scHidden = true`) by overriding `document.visibilityState`, and the
# browser's Notification constructor is wrapped to list what was shown (the real one runs
# too, with the permission granted).
HIDDEN_PAGE = """
Object.defineProperty(Document.prototype, 'visibilityState', {
  configurable: true,
  get: () => (window.__scHidden ? 'hidden' : 'visible')
});
window.__scShown = [];
const RealNotification = window.Notification;
window.Notification = class extends RealNotification {
  constructor(title, options) {
    super(title, options);
    window.__scShown.push({ title, body: options?.body ?? '' });
  }
};
"""
SETTINGS_PLUGIN = "jupyter-sidecar-ext:plugin"


def test_a_long_run_ending_while_the_page_is_hidden_notifies_the_desktop(
    sc_lab_server: LabServer, sc_files: Files, sc_pages: Pages, sc_browser: Any
) -> None:
    """Opted in (threshold 1 s): the short run says nothing, the long one is notified."""
    sc_lab_server.write_settings(
        SETTINGS_PLUGIN, {"desktopNotifications": True, "desktopNotificationSeconds": 1}
    )
    sc_browser.grant_permissions(["notifications"], origin=sc_lab_server.url.rstrip("/"))
    try:
        path = sc_files.notebook(
            "desktop", ("code", "1 + 1"), ("code", "import time\ntime.sleep(1.5)")
        )
        page = sc_pages.new_page()
        page.add_init_script(HIDDEN_PAGE)
        page.goto(
            sc_lab_server.lab_url(
                f"lab/workspaces/sc-desktop-{secrets.token_hex(4)}/tree/{path}", reset=""
            )
        )
        code_cells(page).nth(1).wait_for(timeout=LOAD_TIMEOUT_MS)
        wait_kernel_idle(page)
        assert page.evaluate("Notification.permission") == "granted"
        page.evaluate("window.__scHidden = true")
        run_cell(page, 0)  # the short one, then the long one
        page.keyboard.press("Shift+Enter")
        page.wait_for_function("() => window.__scShown.length > 0", timeout=RUN_TIMEOUT_MS)
        expect(prompt(page, 0)).to_have_text("[1]:")
        shown = page.evaluate("window.__scShown")
        assert [item["title"] for item in shown] == [path], shown
        assert re.fullmatch(r"\[2\] finished in [12] s", shown[0]["body"]), shown
    finally:
        sc_browser.clear_permissions()
        sc_lab_server.settings_path(SETTINGS_PLUGIN).unlink(missing_ok=True)
