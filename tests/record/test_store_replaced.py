"""A store file deleted or replaced under a running server: the next write batch notices
(the file at the path is not the one opened), says so once, and writes every cell memory
holds to the file now at the path, so nothing recorded before or after is lost."""

from __future__ import annotations

import copy
import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG


def stored_cells(path: Path, kernel_id: str) -> dict[str, dict[str, Any]]:
    """What the file holds for a kernel, read as another process would."""
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            rows = db.execute("SELECT cell_id, data FROM cells WHERE kernel_id = ?", (kernel_id,))
        except sqlite3.OperationalError:
            return {}  # its schema is being created
        return {cell_id: json.loads(data) for cell_id, data in rows}


def loss_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "while the server ran" in r.getMessage()
    ]


def delete_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


async def test_a_deleted_file_is_recreated_from_memory_at_close(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    """Nothing new to write after the deletion: close still notices and writes memory."""
    path = tmp_path / "outputs.sqlite"
    store = make_store(path)
    held = {"a": cell("a", 1, "kept\n")}
    store.set_memory_source(lambda: [(record("k1"), {i: (lambda c=c: c) for i, c in held.items()})])
    await save(store, record("k1"), held["a"])
    delete_store(path)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        await store.close()
    (warning,) = loss_warnings(caplog)
    assert "deleted" in warning
    reopened = make_store(path)
    notebook = await reopened.notebook("k1")
    assert notebook is not None and notebook["cells"] == [held["a"]]
    await reopened.close()


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store" / "outputs.sqlite"


@pytest.fixture
def jp_server_config(store_path: Path) -> Config:
    config = Config(copy.deepcopy(SERVER_CONFIG))
    config.CellStore.path = str(store_path)
    config.CellStore.interval = 0.05
    return config


async def run_and_wait_stored(
    client: Any, kernel_id: str, cell_ids: list[str], path: Path, sc_cell_finished: Any, wait: Any
) -> None:
    """Run the last of `cell_ids`, then wait until the file holds all of them, finished."""
    await client.collect(await client.execute(f"print({cell_ids[-1]!r})", cell_id=cell_ids[-1]))
    await sc_cell_finished(kernel_id, cell_ids[-1])

    def stored() -> bool:  # a row written at the reply is written again with the outputs
        cells = stored_cells(path, kernel_id)
        return all(
            cells.get(cell_id, {}).get("status") == "ok" and cells[cell_id]["outputs"]
            for cell_id in cell_ids
        )

    await wait(stored, timeout=30, what=f"cells {cell_ids} in the store")


@pytest.mark.parametrize("how", ["deleted", "replaced"])
async def test_a_store_file_lost_while_the_server_runs_keeps_every_cell(
    how: str,
    store_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
) -> None:
    caplog.set_level(logging.WARNING)
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    await run_and_wait_stored(
        client, kernel_id, ["before"], store_path, sc_cell_finished, sc_wait_until
    )

    if how == "deleted":
        delete_store(store_path)
    else:  # another store (say, restored from a backup) moved over it
        other_path = store_path.with_name("other.sqlite")
        other = make_store(other_path)
        await save(other, record("other"), cell("o", 1))
        await other.close()
        os.replace(other_path, store_path)
    await run_and_wait_stored(
        client, kernel_id, ["before", "after"], store_path, sc_cell_finished, sc_wait_until
    )

    (warning,) = loss_warnings(caplog)  # once, not per batch
    assert how in warning
    reopened = make_store(store_path)  # as the next server run reads it
    notebook = await reopened.notebook(kernel_id)
    assert notebook is not None
    assert [(c["id"], c["outputs"][0]["text"]) for c in notebook["cells"]] == [
        ("before", "before\n"),
        ("after", "after\n"),
    ]
    if how == "replaced":  # what the replacement held stays
        other_notebook = await reopened.notebook("other")
        assert other_notebook is not None and [c["id"] for c in other_notebook["cells"]] == ["o"]
    await reopened.close()
