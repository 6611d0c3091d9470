"""Outputs never lost: the labextension puts back what the server recorded (real browser).

Each test writes a notebook (with cell ids and a kernelspec) into the server's root_dir,
runs its one cell in a first page (a loop printing a line every 0.5 s), closes that page
without saving (autosave is off in the harness, so the file on disk never has outputs),
and looks at what a new page shows. Where a test checks that nothing was put back, it
first waits for what restoring says in the browser console (debug level) once it has read
the server's record: the labextension leaves no marker in the page for tests.

Every test runs with real-time collaboration off and on (`sc_lab_server`'s two modes). On,
the pages of a notebook share one document, which the server fills for executions whose
page is gone (pages put nothing back themselves): a page opened later shows what the
document holds. (Autosave is off for the pages, so jupyter-collaboration saves nothing.)
In a venv with jupyter-server-documents instead, "on" uses it: it runs cells itself and
writes their outputs into the document (whether or not a page is open), and saves the
document itself; the sidecar matches its executions with their cells (collab/cell_ids.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import Page, expect

from .harness import SERVER_DOCUMENTS, LabServer
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

pytestmark = pytest.mark.ui

LINES = 12
HELD_AT = 6
# Prints a line every 0.5 s, and holds before line HELD_AT until the test creates the flag
# file (`NotebookFile.release()`): the cell is still running when a second page opens,
# however slow the machine.
CODE = (
    "import os, time\n"
    f"for i in range({LINES}):\n"
    f"    while i == {HELD_AT} and not os.path.exists(FLAG):\n"
    "        time.sleep(0.02)\n"
    "    print(f'line {i}', flush=True)\n"
    "    time.sleep(0.5)"
)
EXPECTED_LINES = [f"line {i}" for i in range(LINES)]
SETTINGS_PLUGIN = "jupyter-sidecar-ext:plugin"
FINAL_STATUSES = {"ok", "error", "aborted"}


@dataclass(frozen=True)
class NotebookFile:
    path: str  # relative to the server's root_dir
    cell_id: str
    flag: Path  # created by release(): the cell prints its last lines and ends

    def release(self) -> None:
        self.flag.touch()


@pytest.fixture
def notebook(sc_files: Files) -> NotebookFile:
    """A notebook with one printing cell; its sessions are shut down afterwards."""
    token = secrets.token_hex(4)
    cell_id = f"printing-{token}"
    flag = sc_files.server.root_dir / f"release-{token}"
    code = CODE.replace("FLAG", repr(str(flag)))
    path = sc_files.notebook("restore", ("code", code), ids=[cell_id])
    return NotebookFile(path=path, cell_id=cell_id, flag=flag)


@pytest.fixture
def restore_setting(sc_lab_server: LabServer) -> Iterator[Callable[[bool], None]]:
    """Set `restoreOutputs` for pages opened afterwards; back to the default after."""
    path = sc_lab_server.settings_path(SETTINGS_PLUGIN)

    def set_restore(value: bool) -> None:
        sc_lab_server.write_settings(SETTINGS_PLUGIN, {"restoreOutputs": value})

    yield set_restore
    path.unlink(missing_ok=True)


# --- page helpers ---------------------------------------------------------------------------


def restore_said(pages: Pages, page: Page, path: str, *, off: bool = False) -> str:
    """What restoring said in the console (debug level) about the notebook `path`: once it
    read the server's record (`restored outputs in ...`, `outputs of ... are up to date`, or
    for a shared document `outputs of ... are written by the server`), or, with `off`, that
    the setting is off. Waits for it; the first such line."""
    said = (
        [f"restoring outputs is off for {path}"]
        if off
        else [
            f"restored outputs in {path} (",
            f"outputs of {path} are up to date (",
            f"outputs of {path} are written by the server into the shared document (",
        ]
    )
    return pages.wait_console(page, lambda line: any(text in line for text in said))


def restored_lines(pages: Pages, page: Page) -> list[str]:
    return [line for line in pages.console(page) if "restored outputs" in line]


def run_first_line(page: Page) -> None:
    """Run the cell with Shift+Enter and wait until its first line is shown."""
    run_cell(page)
    expect(prompt(page)).to_have_text("[*]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page).first).to_contain_text("line 0", timeout=RUN_TIMEOUT_MS)


def start_in_a_page(pages: Pages, notebook: NotebookFile) -> Page:
    """Open the notebook in a new page (kernel idle) and run the cell until its first line
    shows."""
    page = pages.open(notebook.path)
    wait_kernel_idle(page)
    run_first_line(page)
    return page


def shown_lines(page: Page) -> list[str]:
    return "".join(outputs(page).all_inner_texts()).splitlines()


def expect_all_lines_once(page: Page, execution_count: int) -> None:
    """Every line exactly once, in one output (merged stream), and the prompt's number."""
    expect(prompt(page)).to_have_text(f"[{execution_count}]:", timeout=RUN_TIMEOUT_MS)
    expect(outputs(page)).to_have_count(1)
    expect(outputs(page).first).to_contain_text(EXPECTED_LINES[-1])
    assert shown_lines(page) == EXPECTED_LINES


# --- server helpers -------------------------------------------------------------------------


def wait_cell_done(server: LabServer, kernel_id: str, cell_id: str) -> dict[str, Any]:
    """Poll the server's record of the cell until its execution ended (bounded)."""

    def not_done(answer: tuple[int, Any]) -> str:
        _, record = server.request("GET", f"api/sidecar/kernels/{kernel_id}/notebook")
        cells = record.get("cells", [])
        unmatched = [cell["id"] for cell in cells if cell["id"] == cell["msg_id"]]
        if unmatched:
            return (
                f"the server recorded executions without JupyterLab's cellId ({unmatched}): "
                "its execute_requests did not go through SidecarKernelConnection "
                f"(ServerApp.kernel_websocket_connection_class not applied?); record: {record}"
            )
        return f"cell {cell_id} did not finish on the server: {answer[1]}; record: {record}"

    _, cell = poll(
        lambda: server.request("GET", f"api/sidecar/kernels/{kernel_id}/cells/{cell_id}"),
        lambda answer: answer[0] == 200 and answer[1]["status"] in FINAL_STATUSES,
        not_done,
    )
    return dict(cell)


def saved_cell(server: LabServer, notebook: NotebookFile) -> Any:
    """The cell as the file on disk holds it."""
    return nbformat.read(server.root_dir / notebook.path, as_version=4).cells[0]


def stream_lines(outputs: list[Any]) -> list[str]:
    """The lines of a cell's stream outputs (jupyter-server-documents saves one stream
    output per message, the others one merged stream: the text is the same)."""
    return "".join("".join(output.get("text", "")) for output in outputs).splitlines()


def saved_lines(server: LabServer, notebook: NotebookFile) -> list[str]:
    """The lines the file on disk holds for the cell, all in stream outputs."""
    outputs = saved_cell(server, notebook).outputs
    assert {output.output_type for output in outputs} == {"stream"}, outputs
    return stream_lines(outputs)


def assert_recorded_everything(cell: dict[str, Any]) -> None:
    assert cell["status"] == "ok", cell
    assert [o["output_type"] for o in cell["outputs"]] == ["stream"], cell["outputs"]
    assert cell["outputs"][0]["text"].splitlines() == EXPECTED_LINES


def recorded_cell(server: LabServer, kernel_id: str, notebook: NotebookFile) -> dict[str, Any]:
    """The server's record of the cell once it ended, checked to hold every line once."""
    recorded = wait_cell_done(server, kernel_id, notebook.cell_id)
    assert_recorded_everything(recorded)
    return recorded


# --- tests ----------------------------------------------------------------------------------


def test_outputs_of_a_closed_page_are_restored(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    sc_pages: Pages,
    tmp_path: Path,
) -> None:
    """(a) The page closes after the first line; the cell ends on the server; a new page
    shows every line once and the execution count."""
    start_in_a_page(sc_pages, notebook).close()
    notebook.release()
    recorded = recorded_cell(sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook)

    second = sc_pages.open(notebook.path)
    expect_all_lines_once(second, recorded["execution_count"])
    said = restore_said(sc_pages, second, notebook.path)
    if sc_lab_server.collaborative:  # the server wrote it into the document, no page open
        assert "written by the server" in said, said
        assert restored_lines(sc_pages, second) == [], sc_pages.console(second)
    else:
        assert f"filled [{notebook.cell_id}]" in said, said
        restored = restored_lines(sc_pages, second)
        assert len(restored) == 1, restored
    second.screenshot(path=tmp_path / "restored.png")


def test_a_running_cell_continues_live_in_a_new_page(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    sc_pages: Pages,
    tmp_path: Path,
) -> None:
    """(b) The new page opens while the cell still runs: [*], then lines keep arriving
    live, each once, and the prompt gets its number."""
    start_in_a_page(sc_pages, notebook).close()

    second = sc_pages.open(notebook.path)
    expect(prompt(second)).to_have_text("[*]:", timeout=LOAD_TIMEOUT_MS)
    expect(outputs(second).first).to_contain_text("line 0")
    seen = len(shown_lines(second))
    assert 0 < seen < LINES, shown_lines(second)
    said = restore_said(sc_pages, second, notebook.path)
    if sc_lab_server.collaborative:  # the server writes it into the shared document
        assert "written by the server" in said, said
    else:
        assert f"followed [{notebook.cell_id}]" in said, said
    second.screenshot(path=tmp_path / "following.png")
    notebook.release()
    # A line arrives while the cell still shows as running: live, not fetched at the end.
    second.wait_for_function(
        """([seen]) => {
            const cell = document.querySelector('.jp-NotebookPanel .jp-CodeCell');
            const prompt = cell.querySelector('.jp-InputPrompt').textContent;
            const text = cell.querySelector('.jp-OutputArea-output')?.textContent ?? '';
            return prompt === '[*]:' && text.trim().split('\\n').length > seen;
        }""",
        arg=[seen],
        timeout=RUN_TIMEOUT_MS,
    )
    recorded = recorded_cell(sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook)
    expect_all_lines_once(second, recorded["execution_count"])
    second.screenshot(path=tmp_path / "followed.png")


def test_outputs_from_before_a_server_restart_are_offered(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    sc_pages: Pages,
    tmp_path: Path,
) -> None:
    """(c) The cell ended, the page closed unsaved, the server restarted: a new page offers
    the recorded outputs; "Restore outputs" puts them back."""
    start_in_a_page(sc_pages, notebook).close()
    notebook.release()
    old_kernel = kernel_of(sc_lab_server, notebook.path)
    recorded = recorded_cell(sc_lab_server, old_kernel, notebook)
    sc_lab_server.restart()

    if sc_lab_server.collaboration == SERVER_DOCUMENTS:
        # jupyter-server-documents saves its documents itself (no setting turns that off):
        # the file kept the cell as it ended, so nothing is missing and nothing is offered.
        assert saved_lines(sc_lab_server, notebook) == EXPECTED_LINES
        second = sc_pages.open(notebook.path)
        expect_all_lines_once(second, recorded["execution_count"])
        assert "written by the server" in restore_said(sc_pages, second, notebook.path)
        expect(
            second.locator(".jp-toast-message", has_text="earlier kernel session")
        ).to_have_count(0)
        return

    second = sc_pages.open(notebook.path)
    toast = second.locator(".jp-toast-message", has_text="earlier kernel session")
    expect(toast).to_be_visible(timeout=LOAD_TIMEOUT_MS)
    expect(toast).to_contain_text(f"1 cell of {notebook.path} has outputs recorded")
    assert kernel_of(sc_lab_server, notebook.path) != old_kernel
    # Offered, not restored behind the user's back.
    expect(outputs(second)).to_have_count(0)
    expect(prompt(second)).to_have_text("[ ]:")
    second.screenshot(path=tmp_path / "offer.png")

    second.get_by_role("button", name="Restore outputs").click()
    expect_all_lines_once(second, recorded["execution_count"])
    expect(toast).to_be_hidden()
    second.screenshot(path=tmp_path / "offer-restored.png")


def test_restore_setting_off_restores_nothing_until_turned_on(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    sc_pages: Pages,
    restore_setting: Callable[[bool], None],
    tmp_path: Path,
) -> None:
    """(d) With `restoreOutputs` false nothing is restored; turning it on in the settings
    editor applies at once."""
    if sc_lab_server.collaborative:
        pytest.skip(
            "a page's setting does not decide what a shared document holds: the server "
            "writes it (SharedDocumentWriter.enabled turns that off, README)"
        )
    restore_setting(False)
    start_in_a_page(sc_pages, notebook).close()
    notebook.release()
    recorded = recorded_cell(sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook)

    second = sc_pages.open(notebook.path)
    restore_said(sc_pages, second, notebook.path, off=True)
    wait_kernel_idle(second)  # connected to the kernel that recorded the cell
    expect(outputs(second)).to_have_count(0)
    expect(prompt(second)).to_have_text("[ ]:")
    second.screenshot(path=tmp_path / "off.png")

    # Settings > Settings Editor > Sidecar > Restore outputs: applies to open notebooks.
    second.get_by_role("menuitem", name="Settings").click()
    second.get_by_role("menuitem", name="Settings Editor").click()
    second.locator(".jp-PluginList").get_by_text("Sidecar", exact=True).click()
    checkbox = second.get_by_role("checkbox", name="Restore outputs")
    expect(checkbox).not_to_be_checked()
    checkbox.check()
    second.get_by_role("tab", name=re.compile(re.escape(notebook.path))).click()
    expect_all_lines_once(second, recorded["execution_count"])
    assert restore_said(sc_pages, second, notebook.path).endswith(
        f"filled [{notebook.cell_id}], followed [], offered []"
    ), sc_pages.console(second)
    second.screenshot(path=tmp_path / "turned-on.png")


def test_an_edited_cell_is_not_overwritten(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    sc_pages: Pages,
) -> None:
    """The recorded execution ran code that the notebook no longer has: nothing is put
    back into that cell."""
    start_in_a_page(sc_pages, notebook).close()
    notebook.release()
    recorded = recorded_cell(sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook)
    if sc_lab_server.collaboration == SERVER_DOCUMENTS:
        # jupyter-server-documents saves the document itself, ~0.5 s after a change: a save
        # of the ended cell still to come would write the old code back over the edit below.
        poll(
            lambda: saved_cell(sc_lab_server, notebook),
            lambda cell: (
                cell.execution_count == recorded["execution_count"]
                and stream_lines(cell.outputs) == EXPECTED_LINES
            ),
            lambda cell: f"the ended cell was never saved: {cell}",
        )

    # The cell's code changes on disk (e.g. edited by another client, then saved).
    file = sc_lab_server.root_dir / notebook.path
    nb = nbformat.read(file, as_version=4)
    nb.cells[0].source = CODE.replace("line", "row")
    nb.cells[0].outputs, nb.cells[0].execution_count = [], None  # saved by collaboration
    nbformat.write(nb, file)

    second = sc_pages.open(notebook.path)
    said = restore_said(sc_pages, second, notebook.path)
    assert "up to date" in said or "written by the server" in said, said  # nothing put back
    expect(code_cells(second).first.locator(".jp-InputArea-editor")).to_contain_text("row {i}")
    expect(outputs(second)).to_have_count(0)
    expect(prompt(second)).to_have_text("[ ]:")


def test_outputs_already_shown_are_not_duplicated(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    sc_pages: Pages,
) -> None:
    """The page saved the finished cell, so the file has its outputs: a new page shows them
    once, as saved."""
    first = start_in_a_page(sc_pages, notebook)
    notebook.release()
    recorded = wait_cell_done(
        sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook.cell_id
    )
    expect_all_lines_once(first, recorded["execution_count"])
    first.keyboard.press("Control+s")
    first.locator(".jp-mod-dirty").wait_for(state="detached")  # saved: tab no longer dirty
    assert saved_lines(sc_lab_server, notebook) == EXPECTED_LINES
    first.close()

    second = sc_pages.open(notebook.path)
    said = restore_said(sc_pages, second, notebook.path)
    expect_all_lines_once(second, recorded["execution_count"])
    # Found identical ("same"): nothing was put back.
    assert "up to date" in said or "written by the server" in said, said
    assert restored_lines(sc_pages, second) == [], sc_pages.console(second)


def test_several_pages_show_the_execution_once(
    sc_lab_server: LabServer,
    notebook: NotebookFile,
    sc_pages: Pages,
) -> None:
    """Several pages on one notebook: a second page opens while the first runs the cell,
    the first closes, a third opens; the second and third show every line once and the
    execution count (collaboration on: one document, written by the first page, then by
    the server)."""
    first = start_in_a_page(sc_pages, notebook)
    second = sc_pages.open(notebook.path)
    expect(prompt(second)).to_have_text("[*]:", timeout=LOAD_TIMEOUT_MS)
    expect(outputs(second).first).to_contain_text("line 0")
    first.close()
    third = sc_pages.open(notebook.path)
    expect(prompt(third)).to_have_text("[*]:", timeout=LOAD_TIMEOUT_MS)
    notebook.release()
    recorded = recorded_cell(sc_lab_server, kernel_of(sc_lab_server, notebook.path), notebook)
    for page in (second, third):
        expect_all_lines_once(page, recorded["execution_count"])
