"""A cell waiting for input() is asked again in a reopened page (real browser).

The kernel sends its input_request only to the page that ran the cell. The server keeps it on
the cell's record; a new page shows JupyterLab's input box for it, and what the user types
reaches the kernel through the server (`POST .../input`). Once answered, no page shows a box.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .harness import LabServer
from .pages import (
    LOAD_TIMEOUT_MS,
    RUN_TIMEOUT_MS,
    Files,
    Pages,
    kernel_of,
    outputs,
    poll,
    prompt,
    run_cell,
    wait_kernel_idle,
)

pytestmark = pytest.mark.ui

CODE = "name = input('name? ')\nprint('hello', name)"


def test_a_reopened_page_asks_for_the_pending_input_and_the_kernel_gets_it(
    sc_lab_server: LabServer, sc_files: Files, sc_pages: Pages, tmp_path: Path
) -> None:
    cell_id = f"asking-{secrets.token_hex(4)}"
    path = sc_files.notebook("input", ("code", CODE), ids=[cell_id])
    first = sc_pages.open(path)
    wait_kernel_idle(first)
    watching = sc_pages.open(path)  # open before the run: told by the server's events
    wait_kernel_idle(watching)
    run_cell(first)
    expect(first.locator(".jp-Stdin-prompt")).to_contain_text("name?", timeout=RUN_TIMEOUT_MS)
    kernel_id = kernel_of(sc_lab_server, path)
    cell_path = f"api/sidecar/kernels/{kernel_id}/cells/{cell_id}"
    poll(
        lambda: sc_lab_server.request("GET", cell_path),
        lambda answer: answer[0] == 200 and answer[1].get("input_request") is not None,
        lambda answer: f"the server did not record the pending input: {answer}",
    )
    first.close()

    second = sc_pages.open(path)
    for page in (second, watching):
        expect(page.locator(".jp-Stdin-prompt")).to_contain_text("name? ", timeout=LOAD_TIMEOUT_MS)
        expect(page.locator(".jp-Stdin")).to_have_count(1)
    expect(prompt(second)).to_have_text("[*]:")
    second.screenshot(path=tmp_path / "asked-again.png")
    box = second.locator(".jp-Stdin-input")
    box.fill("Ada")
    box.press("Enter")

    expect(outputs(second).first).to_contain_text("hello Ada", timeout=RUN_TIMEOUT_MS)
    expect(prompt(second)).to_have_text("[1]:", timeout=RUN_TIMEOUT_MS)
    for page in (second, watching):  # answered: no page asks any more
        expect(page.locator(".jp-Stdin")).to_have_count(0, timeout=RUN_TIMEOUT_MS)
    status, cell = sc_lab_server.request("GET", cell_path)
    assert status == 200 and cell["status"] == "ok" and cell["input_request"] is None, cell
    assert cell["outputs"][0]["text"] == "hello Ada\n"
