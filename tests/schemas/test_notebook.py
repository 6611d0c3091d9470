"""Notebook models: exact round trips of nbformat v4.0-4.5 notebooks, and iopub -> output
conversion consistent with ``nbformat.v4.output_from_msg``."""

from __future__ import annotations

import copy
import json
import sys
import sysconfig
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat import v4
from pydantic import ValidationError

from jupyter_sidecar_ext.schemas import (
    CodeCell,
    DisplayDataOutput,
    ErrorOutput,
    ExecuteResultOutput,
    MarkdownCell,
    Notebook,
    RawCell,
    StreamOutput,
    UnrecognizedCell,
    UnrecognizedOutput,
    join_multiline,
    notebook_from_dict,
    output_from_iopub,
)
from jupyter_sidecar_ext.schemas.notebook import output_adapter

PNG = (  # a 1x1 png
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA"
    "60e6kgAAAABJRU5ErkJggg=="
)
TRACEBACK = ["\x1b[31m-----\x1b[39m", "\x1b[31mZeroDivisionError\x1b[39m: division by zero"]


def all_kinds_notebook() -> Any:
    """Every cell type, every output type, both source forms, attachments, rich metadata."""
    outputs = [
        v4.new_output("stream", name="stdout", text="one\ntwo\n"),
        v4.new_output("stream", name="stderr", text=["warn\n", "again"]),
        v4.new_output(
            "display_data",
            data={"image/png": PNG, "text/plain": ["<Figure size 1x1>"]},
            metadata={"image/png": {"width": 1, "height": 1}, "needs_background": "light"},
        ),
        v4.new_output(
            "display_data",
            data={"application/json": {"a": [1, 2, {"b": None}]}, "text/html": ["<b>x</b>\n", "y"]},
        ),
        v4.new_output("execute_result", data={"text/plain": "2"}, execution_count=3),
        v4.new_output("execute_result", data={"text/plain": "None"}, execution_count=None),
        v4.new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero", traceback=TRACEBACK
        ),
    ]
    cells = [
        v4.new_code_cell("x = 1\nx + 1", outputs=outputs, execution_count=3),
        v4.new_code_cell(
            ["import sys\n", "print(sys.version)"],
            metadata={
                "tags": ["parameters"],
                "collapsed": False,
                "scrolled": "auto",
                "jupyter": {"source_hidden": True, "outputs_hidden": False},
                "execution": {
                    "iopub.execute_input": "2024-05-01T10:00:00.1Z",
                    "iopub.status.busy": "2024-05-01T10:00:00.0Z",
                    "iopub.status.idle": "2024-05-01T10:00:00.3Z",
                    "shell.execute_reply": "2024-05-01T10:00:00.2Z",
                },
                "vscode": {"languageId": "python"},
            },
        ),
        v4.new_code_cell(""),
        v4.new_markdown_cell(
            ["# Title\n", "\n", "![img](attachment:dot.png)"],
            attachments={"dot.png": {"image/png": PNG}},
            metadata={"name": "intro"},
        ),
        v4.new_markdown_cell("plain *markdown*"),
        v4.new_raw_cell("\\LaTeX", metadata={"format": "text/latex", "raw_mimetype": "text/latex"}),
        v4.new_raw_cell(["a\n", "b"], attachments={"f.txt": {"text/plain": "hi"}}),
    ]
    metadata = {
        "kernelspec": {
            "name": "python3",
            "display_name": "Python 3 (ipykernel)",
            "language": "python",
        },
        "language_info": {
            "name": "python",
            "version": "3.11.7",
            "mimetype": "text/x-python",
            "codemirror_mode": {"name": "ipython", "version": 3},
            "pygments_lexer": "ipython3",
            "nbconvert_exporter": "python",
            "file_extension": ".py",
        },
        "title": "All kinds",
        "authors": [{"name": "Ada"}],
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {}}},
    }
    return v4.new_notebook(cells=cells, metadata=metadata)


def minor(nb: Any, nbformat_minor: int) -> Any:
    """The same notebook at an older minor version: cells carry no id before 4.5."""
    nb = copy.deepcopy(nb)
    nb["nbformat_minor"] = nbformat_minor
    if nbformat_minor < 5:
        for cell in nb["cells"]:
            del cell["id"]
    return nb


def on_disk(nb: Any) -> Any:
    """As read back from a .ipynb file: multiline strings split into lists of lines."""
    return json.loads(nbformat.writes(nb))


def _cases() -> list[tuple[str, Any]]:
    nb = all_kinds_notebook()
    cases = [("v4.5", nb), ("v4.5-on-disk", on_disk(nb)), ("empty", v4.new_notebook())]
    for m in range(5):
        cases.append((f"v4.{m}", minor(nb, m)))
    cases.append(("v4.4-on-disk", on_disk(minor(nb, 4))))
    return cases


CASES = _cases()


@pytest.mark.parametrize("nb", [c[1] for c in CASES], ids=[c[0] for c in CASES])
def test_notebook_round_trips_exactly_and_stays_valid(nb: Any) -> None:
    nbformat.validate(nb)
    original = copy.deepcopy(nb)
    dumped = notebook_from_dict(nb).to_dict()
    assert dumped == nb
    assert json.dumps(dumped, sort_keys=True) == json.dumps(original, sort_keys=True)
    nbformat.validate(dumped)
    assert nb == original  # the input is not modified


def test_source_forms_are_kept_and_joined_with_empty_string() -> None:
    nb = notebook_from_dict(on_disk(all_kinds_notebook()))
    first, second = nb.cells[0], nb.cells[1]
    assert isinstance(first, CodeCell)
    assert isinstance(second, CodeCell)
    assert first.source == ["x = 1\n", "x + 1"]
    assert first.text == "x = 1\nx + 1"
    assert second.text == "import sys\nprint(sys.version)"
    stream = first.outputs[1]
    assert isinstance(stream, StreamOutput)
    assert join_multiline(stream.text) == "warn\nagain"
    markdown = nb.cells[3]
    assert isinstance(markdown, MarkdownCell)
    assert markdown.attachments == {"dot.png": {"image/png": PNG}}
    assert markdown.metadata.name == "intro"
    assert isinstance(nb.cells[5], RawCell)
    assert nb.metadata.kernelspec is not None
    assert nb.metadata.kernelspec.name == "python3"


def test_typed_outputs() -> None:
    cell = notebook_from_dict(all_kinds_notebook()).cells[0]
    assert isinstance(cell, CodeCell)
    kinds = [type(o) for o in cell.outputs]
    assert kinds == [
        StreamOutput,
        StreamOutput,
        DisplayDataOutput,
        DisplayDataOutput,
        ExecuteResultOutput,
        ExecuteResultOutput,
        ErrorOutput,
    ]


def test_ids_are_absent_before_4_5_and_kept_from_4_5() -> None:
    nb = all_kinds_notebook()
    with_ids = notebook_from_dict(nb)
    assert [c.id for c in with_ids.cells if not isinstance(c, UnrecognizedCell)] == [
        c["id"] for c in nb["cells"]
    ]
    without = notebook_from_dict(minor(nb, 4)).to_dict()
    assert all("id" not in c for c in without["cells"])


def test_model_built_in_code_dumps_valid_nbformat() -> None:
    nb = Notebook(
        cells=[
            CodeCell(
                id="c1",
                source="print(1)",
                outputs=[
                    StreamOutput(name="stdout", text="1\n"),
                    ExecuteResultOutput(execution_count=1, data={"text/plain": "1"}),
                    DisplayDataOutput(data={"text/plain": "d"}),
                    ErrorOutput(ename="E", evalue="v"),
                ],
                execution_count=1,
            ),
            MarkdownCell(id="m1", source="# hi"),
            RawCell(id="r1"),
        ]
    )
    dumped = nb.to_dict()
    nbformat.validate(dumped)
    code = dumped["cells"][0]
    assert code["outputs"][1] == {
        "output_type": "execute_result",
        "execution_count": 1,
        "data": {"text/plain": "1"},
        "metadata": {},
    }
    assert "attachments" not in dumped["cells"][1]
    assert notebook_from_dict(dumped).to_dict() == dumped


@pytest.mark.parametrize(
    ("where", "extra"),
    [("notebook", {"x": 1}), ("cell", {"prompt_number": 1}), ("output", {"transient": {}})],
)
def test_fields_nbformat_forbids_are_rejected_not_dropped(
    where: str, extra: dict[str, Any]
) -> None:
    nb = all_kinds_notebook()
    target = {"notebook": nb, "cell": nb["cells"][0], "output": nb["cells"][0]["outputs"][0]}[where]
    target.update(extra)
    with pytest.raises(ValidationError):
        notebook_from_dict(nb)


def test_metadata_keeps_unknown_fields() -> None:
    nb = all_kinds_notebook()
    parsed = notebook_from_dict(nb)
    assert parsed.metadata.model_extra == {"widgets": nb["metadata"]["widgets"]}
    assert parsed.metadata.kernelspec is not None
    assert parsed.metadata.kernelspec.model_extra == {"language": "python"}


def test_unrecognized_cells_and_outputs_from_future_minor_are_kept() -> None:
    nb = minor(all_kinds_notebook(), 5)
    nb["nbformat_minor"] = 9
    nb["cells"].append({"cell_type": "sql", "metadata": {}, "source": "select 1", "id": "s1"})
    nb["cells"][0]["outputs"].append({"output_type": "widget_view", "model_id": "m", "data": {}})
    parsed = notebook_from_dict(nb)
    assert isinstance(parsed.cells[-1], UnrecognizedCell)
    first = parsed.cells[0]
    assert isinstance(first, CodeCell)
    assert isinstance(first.outputs[-1], UnrecognizedOutput)
    assert parsed.to_dict() == nb


def _installed_notebooks(limit: int = 5) -> list[Path]:
    roots = {Path(sysconfig.get_paths()["purelib"]), Path(sys.prefix) / "share"}
    found: list[Path] = []
    for root in sorted(roots):
        if root.is_dir():
            found.extend(sorted(root.rglob("*.ipynb"))[:limit])
    return found[:limit]


INSTALLED = _installed_notebooks()


@pytest.mark.skipif(not INSTALLED, reason="no installed package ships an .ipynb file")
@pytest.mark.parametrize("path", INSTALLED, ids=[p.name for p in INSTALLED])
def test_installed_ipynb_files_round_trip(path: Path) -> None:
    nb = json.loads(path.read_text(encoding="utf-8"))
    if nb.get("nbformat") != 4:
        pytest.skip(f"nbformat {nb.get('nbformat')} file")
    assert notebook_from_dict(nb).to_dict() == nb


# --- iopub -> nbformat output --------------------------------------------------------


def _msg(msg_type: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "header": {
            "msg_id": "m1",
            "msg_type": msg_type,
            "session": "s",
            "username": "u",
            "date": "2024-05-01T10:00:00Z",
            "version": "5.4",
        },
        "parent_header": {},
        "metadata": {},
        "content": content,
        "buffers": [],
    }


IOPUB_OUTPUTS = [
    _msg("stream", {"name": "stdout", "text": "hello\n"}),
    _msg("stream", {"name": "stderr", "text": "oops\r50%\r100%\n"}),
    _msg(
        "display_data",
        {
            "data": {"text/plain": "<Figure>", "image/png": PNG},
            "metadata": {"image/png": {"width": 1}},
            "transient": {"display_id": "abc"},
        },
    ),
    _msg(
        "execute_result",
        {
            "data": {"text/plain": "2", "application/json": {"x": 1}},
            "metadata": {},
            "execution_count": 7,
            "transient": {"display_id": "r1"},
        },
    ),
    _msg(
        "error",
        {"ename": "ValueError", "evalue": "bad", "traceback": TRACEBACK, "execution_count": 3},
    ),
]


@pytest.mark.parametrize("msg", IOPUB_OUTPUTS, ids=[m["header"]["msg_type"] for m in IOPUB_OUTPUTS])
def test_output_from_iopub_matches_nbformat(msg: dict[str, Any]) -> None:
    expected = v4.output_from_msg(msg)
    output = output_from_iopub(msg["header"]["msg_type"], msg["content"])
    assert output is not None
    assert output.to_dict() == expected
    assert "transient" not in output.to_dict()
    # and it validates as an output of a real notebook
    assert output_adapter.validate_python(expected) == output
    nb = v4.new_notebook(cells=[v4.new_code_cell("x", outputs=[output.to_dict()])])
    nbformat.validate(nb)


def test_output_from_iopub_without_metadata_still_valid() -> None:
    output = output_from_iopub("display_data", {"data": {"text/plain": "x"}})
    assert output is not None
    assert output.to_dict() == {
        "output_type": "display_data",
        "data": {"text/plain": "x"},
        "metadata": {},
    }


@pytest.mark.parametrize(
    "msg_type", ["update_display_data", "clear_output", "status", "execute_input", "comm_msg"]
)
def test_output_from_iopub_none_for_non_outputs(msg_type: str) -> None:
    content = {"data": {"text/plain": "x"}, "metadata": {}, "transient": {"display_id": "a"}}
    assert output_from_iopub(msg_type, content) is None
