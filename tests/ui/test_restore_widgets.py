"""Restored widget views come alive: trusted as live outputs are (real browser).

The notebook is written from Python, unsigned, so JupyterLab does not trust it: outputs it
loads from the file render as their text fallback. Outputs the server recorded from the
notebook's own live kernel are put back trusted, as the page that ran the cell would have
shown them: an ipywidgets slider renders as a widget and a tqdm bar shows its end (the
widget manager reads the live widget state from the kernel). Outputs offered after a server
restart (their kernel is gone) show their text fallback, without a widget error. Reopened
mid-run, the outputs are trusted at once and the bar follows live. With
jupyter-server-documents the server runs the cells and writes their outputs into the
document: the pages trust them as the page that runs a cell does.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .harness import SERVER_DOCUMENTS, LabServer
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

STEPS = 40
HELD_AT = 20
# A slider, then a tqdm bar that holds at HELD_AT until the test creates the flag file: the
# cell still runs when its page closes.
CODE = (
    "import os, time\n"
    "import ipywidgets as widgets\n"
    "from tqdm.auto import tqdm\n"
    "display(widgets.IntSlider(value=3))\n"
    f"for i in tqdm(range({STEPS})):\n"
    f"    while i == {HELD_AT} and not os.path.exists(FLAG):\n"
    "        time.sleep(0.02)\n"
    "    time.sleep(0.01)"
)
SLIDER = ".jp-OutputArea-output .widget-slider"
FINAL_STATUSES = {"ok", "error", "aborted"}


@dataclass(frozen=True)
class WidgetNotebook:
    path: str
    cell_id: str
    flag: Path

    def release(self) -> None:
        self.flag.touch()


@pytest.fixture
def notebook(sc_files: Files) -> WidgetNotebook:
    token = secrets.token_hex(4)
    cell_id = f"widgets-{token}"
    flag = sc_files.server.root_dir / f"release-{token}"
    path = sc_files.notebook(
        "widgets", ("code", CODE.replace("FLAG", repr(str(flag)))), ids=[cell_id]
    )
    return WidgetNotebook(path=path, cell_id=cell_id, flag=flag)


def run_until_held(pages: Pages, notebook: WidgetNotebook) -> Page:
    """A page runs the cell: the slider and the bar show live (the bar then holds at
    HELD_AT; tqdm redraws at most every 0.1 s, so it may show a step before it)."""
    page = pages.open(notebook.path)
    wait_kernel_idle(page)
    run_cell(page)
    expect(page.locator(SLIDER)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(outputs(page).last).to_contain_text(re.compile(rf"\d+/{STEPS}"), timeout=RUN_TIMEOUT_MS)
    return page


def wait_recorded(server: LabServer, kernel_id: str, cell_id: str) -> None:
    poll(
        lambda: server.request("GET", f"api/sidecar/kernels/{kernel_id}/cells/{cell_id}"),
        lambda answer: answer[0] == 200 and answer[1]["status"] in FINAL_STATUSES,
        lambda answer: f"cell {cell_id} did not finish on the server: {answer}",
    )


def test_restored_widgets_render_from_the_live_kernel(
    sc_lab_server: LabServer, notebook: WidgetNotebook, sc_pages: Pages, tmp_path: Path
) -> None:
    """Closed mid-run, reopened after the end: the slider is a widget, the bar shows 40/40."""
    run_until_held(sc_pages, notebook).close()
    notebook.release()
    wait_recorded(sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id)

    second = sc_pages.open(notebook.path)
    expect(second.locator(SLIDER)).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(outputs(second).last).to_contain_text(f"{STEPS}/{STEPS}")
    expect(second.locator(".jp-OutputArea-output", has_text="IntSlider(value=3)")).to_have_count(0)
    expect(prompt(second)).to_have_text("[1]:")
    second.screenshot(path=tmp_path / "widgets.png")


def test_widgets_reopened_mid_run_render_and_follow(
    sc_lab_server: LabServer, notebook: WidgetNotebook, sc_pages: Pages
) -> None:
    """Closed mid-run, reopened while the cell still runs: the outputs are trusted at once
    (a widget view waits for the kernel, busy with the cell, to send the widget's state:
    "Loading widget...", as in stock JupyterLab, never the text fallback); the bar follows
    live to 40/40 and the slider renders."""
    run_until_held(sc_pages, notebook).close()

    second = sc_pages.open(notebook.path)
    expect(second.locator(".jp-OutputArea-output").first).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(prompt(second)).to_have_text("[*]:")
    expect(second.locator(".jp-OutputArea-output", has_text="IntSlider(value=3)")).to_have_count(0)
    notebook.release()
    expect(outputs(second).last).to_contain_text(f"{STEPS}/{STEPS}", timeout=RUN_TIMEOUT_MS)
    expect(second.locator(SLIDER)).to_be_visible(timeout=RUN_TIMEOUT_MS)
    expect(second.locator(".jp-OutputArea-output", has_text="IntSlider(value=3)")).to_have_count(0)
    expect(prompt(second)).to_have_text("[1]:", timeout=RUN_TIMEOUT_MS)


def test_offered_widgets_show_their_fallback(
    sc_lab_server: LabServer, notebook: WidgetNotebook, sc_pages: Pages, tmp_path: Path
) -> None:
    """After a server restart the kernel holding the widgets is gone: the offered outputs
    show the recorded text, no widget and no widget error."""
    run_until_held(sc_pages, notebook).close()
    notebook.release()
    wait_recorded(sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id)
    sc_lab_server.restart()

    second = sc_pages.open(notebook.path)
    if sc_lab_server.collaboration != SERVER_DOCUMENTS:
        second.get_by_role("button", name="Restore outputs").click(timeout=LOAD_TIMEOUT_MS)
    # else jupyter-server-documents saved the outputs into the file itself: nothing is
    # missing, nothing is offered, and the cell must not have been saved trusted.
    expect(outputs(second).first).to_contain_text("IntSlider(value=3)")
    expect(second.locator(SLIDER)).to_have_count(0)
    expect(second.locator(".jp-OutputArea-output", has_text="Error")).to_have_count(0)
    second.screenshot(path=tmp_path / "offered-widgets.png")
