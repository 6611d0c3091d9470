"""The labextension is installed, loads in JupyterLab, and reaches the server extension."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page

from jupyter_sidecar_ext import __version__

from .harness import LabServer
from .pages import goto_workspace, wait_extension_ready

pytestmark = pytest.mark.ui

SERVER_LINE = re.compile(
    r"^jupyter-sidecar-ext: server sidecar (?P<version>\S+) \((?P<features>.*)\)$"
)


def test_extension_loads_and_reaches_server(
    sc_lab_server: LabServer, sc_page: Page, tmp_path: Path
) -> None:
    messages: list[ConsoleMessage] = []

    def record(message: ConsoleMessage) -> None:  # Playwright rejects builtin methods
        messages.append(message)

    sc_page.on("console", record)

    goto_workspace(sc_page, sc_lab_server, "sc-extension-loads")
    wait_extension_ready(sc_page)
    # JupyterLab itself rendered: a reset workspace shows the launcher.
    sc_page.locator(".jp-Launcher").first.wait_for(state="visible")
    sc_page.screenshot(path=tmp_path / "lab.png")

    ours = [m for m in messages if m.text.startswith("jupyter-sidecar-ext:")]
    assert [m.type for m in ours] == ["log"], [f"[{m.type}] {m.text}" for m in ours]
    match = SERVER_LINE.match(ours[0].text)
    assert match, ours[0].text
    assert match["version"] == __version__
