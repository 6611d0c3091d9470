"""A server that offers fewer features: the plugins of the others add nothing (real browser).

JupyterLab runs here with formatting, the Variables panel, the execution queue and
dataflow turned off in the server extension, so `GET api/sidecar` lists only the recording
features. Output restoring (which needs "record" and "notebook") still works; no Variables
tab, formatting button or command, queue command, or dataflow button or command shows.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, expect

from .harness import LabServer
from .pages import LOAD_TIMEOUT_MS, READY, Files, Pages, code_cells, goto_workspace

pytestmark = pytest.mark.ui

FEATURES_OFF = [
    "--SidecarApp.lint_enabled=False",
    "--SidecarApp.variables_enabled=False",
    "--SidecarApp.execution_queue=False",
    "--SidecarApp.dataflow_enabled=False",
]
WORKSPACE = "sc-features-off"
FORMAT_BUTTON = '.jp-NotebookPanel-toolbar [data-command="sidecar:format-notebook"]'
CHECK_BUTTON = ".jp-NotebookPanel-toolbar .jp-Sidecar-diagnosticCount"
SAVE_BUTTON = '.jp-NotebookPanel-toolbar [data-command="docmanager:save"]'
NEEDS_BUTTON = '.jp-NotebookPanel-toolbar [data-command="sidecar:run-cell-and-needs"]'


@pytest.fixture(scope="module")
def lab_with_fewer_features(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A JupyterLab of its own whose server extension offers no lint, variables or queue."""
    server = LabServer(base_dir=tmp_path_factory.mktemp("sc_lab_off"), extra_args=FEATURES_OFF)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_plugins_stay_off_without_their_feature(
    lab_with_fewer_features: LabServer, sc_browser: BrowserContext, tmp_path: Path
) -> None:
    server = lab_with_fewer_features
    status, info = server.request("GET", "api/sidecar")
    assert status == 200, info
    features = set(info["features"])
    assert not {"lint", "check", "variables", "queue", "dataflow"} & features, info
    assert {"record", "notebook"} <= set(info["features"]), info

    files = Files(server)
    path = files.notebook("off", ("code", "x = 1"))
    pages = Pages(sc_browser, server, WORKSPACE)
    failed = True
    try:
        page = pages.new_page()
        goto_workspace(page, server, WORKSPACE, path)
        code_cells(page).first.wait_for(timeout=LOAD_TIMEOUT_MS)
        # Restoring is on: it read the record of the notebook's kernel. By then every
        # plugin has decided from the same answer of the server.
        pages.wait_console(page, lambda line: f"outputs of {path} are up to date" in line)
        expect(page.locator(SAVE_BUTTON)).to_be_visible()  # the toolbar is there...
        expect(page.locator(FORMAT_BUTTON)).to_have_count(0)  # ...without our buttons
        expect(page.locator(CHECK_BUTTON)).to_have_count(0)
        expect(page.locator(NEEDS_BUTTON)).to_have_count(0)
        expect(page.locator(READY)).to_have_count(0)  # no Variables tab

        page.get_by_role("menuitem", name="View").click()
        page.get_by_role("menuitem", name="Activate Command Palette").click()
        palette = page.locator(".jp-ModalCommandPalette")
        search = palette.locator("input")
        for label in (
            "Format Notebook",
            "Check Notebook",
            "Show Variables",
            "Remove from Queue",
            "Run Cell and What It Needs",
        ):
            search.fill(label)
            expect(palette.locator(".lm-CommandPalette-item", has_text=label)).to_have_count(0)
        search.fill("Save Notebook")  # the palette does list JupyterLab's own commands
        expect(palette.locator(".lm-CommandPalette-item").first).to_be_visible()
        page.keyboard.press("Escape")
        failed = False
    finally:
        pages.close(None if not failed else tmp_path)
        files.end_sessions()
