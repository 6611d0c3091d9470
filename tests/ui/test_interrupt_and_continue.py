""" "Interrupt Running Cell and Continue" stops the running cell alone (real browser).

A cell that never ends runs, two quick cells wait behind it in the server-held queue. The
command (from the Kernel menu, or the cell context menu) interrupts the running cell: it
shows its KeyboardInterrupt, and the two waiting cells still run, where a plain interrupt
aborts them (ipykernel's semantics, jupyterlab#7825).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, Page, expect

from .harness import LabServer
from .pages import (
    RUN_TIMEOUT_MS,
    Files,
    code_cells,
    kernel_of,
    open_notebook,
    open_notebook7,
    outputs,
    poll,
    prompt,
    run_cell,
    sessions_of,
)
from .test_remove_from_queue import queue_of, run_all_three, wait_queued

pytestmark = pytest.mark.ui

NEVER_ENDS = "import time\nprint('started', flush=True)\nwhile True:\n    time.sleep(0.02)"
LABEL = "Interrupt Running Cell and Continue"


def output_area(page: Page, index: int) -> Locator:
    """All of a cell's outputs (its stdout, then the interrupt's traceback)."""
    return code_cells(page).nth(index).locator(".jp-OutputArea")


def open_kernel_menu(page: Page) -> None:
    page.locator(".lm-MenuBar-itemLabel").get_by_text("Kernel", exact=True).click()


def from_kernel_menu(page: Page) -> None:
    open_kernel_menu(page)
    page.locator(".lm-Menu .lm-Menu-item", has_text=LABEL).click()


def from_context_menu(page: Page) -> None:
    prompt(page, 0).click(button="right")
    page.locator(".lm-Menu .lm-Menu-item", has_text=LABEL).click()


@pytest.mark.parametrize(
    ("notebook7", "use_command"),
    [(False, from_kernel_menu), (False, from_context_menu), (True, from_kernel_menu)],
    ids=["lab-kernel-menu", "lab-context-menu", "notebook7-kernel-menu"],
)
def test_interrupt_the_running_cell_and_the_queue_goes_on(
    sc_lab_server: LabServer,
    sc_page: Page,
    sc_files: Files,
    notebook7: bool,
    use_command: Callable[[Page], None],
) -> None:
    token = secrets.token_hex(4)
    ids = [f"{name}-{token}" for name in ("long", "second", "third")]
    path = sc_files.notebook(
        "interrupt",
        ("code", NEVER_ENDS),
        ("code", "print('second ran')"),
        ("code", "print('third ran')"),
        ids=ids,
    )
    page = sc_page
    if notebook7:
        open_notebook7(page, sc_lab_server, path)
    else:
        open_notebook(page, sc_lab_server, "sc-interrupt", path)
    run_all_three(page)
    poll(
        lambda: sessions_of(sc_lab_server, path),
        lambda sessions: len(sessions) == 1,
        lambda sessions: f"no one session for {path}: {sessions}",
    )
    kernel_id = kernel_of(sc_lab_server, path)
    if queue_of(sc_lab_server, kernel_id) is None:
        pytest.skip("the server has no execution queue")
    expect(output_area(page, 0)).to_contain_text("started", timeout=RUN_TIMEOUT_MS)
    wait_queued(sc_lab_server, kernel_id, ids[1:])

    use_command(page)

    expect(output_area(page, 0)).to_contain_text("KeyboardInterrupt", timeout=RUN_TIMEOUT_MS)
    expect(prompt(page, 0)).to_have_text("[1]:")
    expect(prompt(page, 1)).to_have_text("[2]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 1)).to_have_text("second ran")
    expect(prompt(page, 2)).to_have_text("[3]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page, 2)).to_have_text("third ran")


def test_a_plain_interrupt_still_aborts_the_queue(
    sc_lab_server: LabServer, sc_page: Page, sc_files: Files
) -> None:
    """The control: JupyterLab's own Interrupt Kernel keeps ipykernel's semantics."""
    path = sc_files.notebook(
        "interrupt", ("code", NEVER_ENDS), ("code", "print('second ran')"), ("code", "3")
    )
    page = sc_page
    open_notebook(page, sc_lab_server, "sc-interrupt", path)
    run_cell(page, 0)
    for _ in range(2):
        page.keyboard.press("Shift+Enter")
    expect(output_area(page, 0)).to_contain_text("started", timeout=RUN_TIMEOUT_MS)
    open_kernel_menu(page)
    page.locator(".lm-Menu .lm-Menu-item", has_text="Interrupt Kernel").click()
    expect(output_area(page, 0)).to_contain_text("KeyboardInterrupt", timeout=RUN_TIMEOUT_MS)
    for index in (1, 2):
        expect(prompt(page, index)).to_have_text("[ ]:", timeout=RUN_TIMEOUT_MS)
        expect(outputs(page, index)).to_have_count(0)
