"""A read-only output store: recording continues in memory, one clear warning (not one per
batch), and once the store is writable again the rows kept meanwhile are written.

The file is made read-only for real, so that SQLite itself answers "attempt to write a
readonly database": with chmod for an ordinary user, and with the immutable attribute
(`chattr +i`) when the tests run as root, since root writes through file modes. Where
neither is possible the tests skip and say why.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config

from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG

READONLY = "readonly database"


class ReadOnlyFile:
    """Makes one file read-only for this process (root included) until `undo()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.applied = False

    def apply(self) -> None:
        if os.geteuid() != 0:
            self.path.chmod(0o444)
        else:
            chattr = shutil.which("chattr")
            if chattr is None:
                pytest.skip("running as root without chattr: root writes through file modes")
            done = subprocess.run([chattr, "+i", str(self.path)], capture_output=True, text=True)
            if done.returncode != 0:
                pytest.skip(
                    "running as root and this filesystem or container refuses the immutable "
                    f"attribute (chattr +i: {done.stderr.strip()}); chmod does not stop root"
                )
        self.applied = True
        if not self._refuses_writes():
            self.undo()
            pytest.skip(f"{self.path} stayed writable after being made read-only")

    def undo(self) -> None:
        if not self.applied:
            return
        if os.geteuid() != 0:
            self.path.chmod(0o644)
        else:
            subprocess.run(["chattr", "-i", str(self.path)], check=True)
        self.applied = False

    def _refuses_writes(self) -> bool:
        db = sqlite3.connect(self.path)
        try:
            db.execute("PRAGMA user_version = 7")
            db.commit()
        except sqlite3.OperationalError as error:
            return READONLY in str(error)
        finally:
            db.close()
        return False


def stored_cells(path: Path, kernel_id: str) -> dict[str, dict[str, Any]]:
    """What the file holds for a kernel, read as another process would."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT cell_id, data FROM cells WHERE kernel_id = ?", (kernel_id,))
        return {cell_id: json.loads(data) for cell_id, data in rows}


def store_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and "output store" in r.getMessage()
    ]


@pytest.fixture
def read_only_store(
    tmp_path: Path, jp_asyncio_loop: Any, make_store: Any, cell: Any, record: Any, save: Any
) -> Iterator[ReadOnlyFile]:
    """An output store from an earlier run (one kernel, one cell), then made read-only."""
    path = tmp_path / "store" / "outputs.sqlite"
    earlier = make_store(path)

    async def create() -> None:
        await save(earlier, record("earlier"), cell("old", 1))
        await earlier.close()

    jp_asyncio_loop.run_until_complete(create())
    read_only = ReadOnlyFile(path)
    read_only.apply()
    try:
        yield read_only
    finally:
        read_only.undo()


async def test_rows_wait_in_memory_and_are_written_when_writable_again(
    read_only_store: ReadOnlyFile,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    path = read_only_store.path
    store = make_store(path)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        for i in range(3):
            await save(store, record("k1", seq=i + 1), cell(f"c{i}", i + 1, f"line {i}\n"))
    (warning,) = store_warnings(caplog)
    assert READONLY in warning and "in memory" in warning
    assert stored_cells(path, "k1") == {}

    read_only_store.undo()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="test-store"):
        await save(store, record("k1", seq=4), cell("c3", 4, "line 3\n"))
    assert [w for w in store_warnings(caplog) if "writable again" in w]
    stored = stored_cells(path, "k1")
    assert sorted(stored) == ["c0", "c1", "c2", "c3"]
    assert [stored[f"c{i}"]["outputs"][0]["text"] for i in range(4)] == [
        f"line {i}\n" for i in range(4)
    ]
    assert sorted(stored_cells(path, "earlier")) == ["old"]  # the earlier run's rows stay
    await store.close()


async def test_a_read_only_store_is_read_as_before(
    read_only_store: ReadOnlyFile, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    store = make_store(read_only_store.path)
    assert [k["kernel_id"] for k in await store.kernels()] == ["earlier"]
    notebook = await store.notebook("earlier")
    assert notebook is not None and [c["id"] for c in notebook["cells"]] == ["old"]
    await save(store, record("k1"), cell("c0", 1))  # kept in memory, the reader unharmed
    assert [k["kernel_id"] for k in await store.kernels()] == ["earlier"]
    await store.close()


async def test_a_file_made_read_only_while_open_loses_nothing(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    """An open connection keeps appending to the write-ahead log, which stays beside the
    file when it cannot be checkpointed into it: the next open replays it."""
    path = tmp_path / "outputs.sqlite"
    store = make_store(path)
    await save(store, record("k1", seq=1), cell("c0", 1))
    read_only = ReadOnlyFile(path)
    read_only.apply()
    try:
        for i in range(1, 4):
            await save(store, record("k1", seq=i + 1), cell(f"c{i}", i + 1))
        await store.close()
    finally:
        read_only.undo()
    reopened = make_store(path)
    notebook = await reopened.notebook("k1")
    assert notebook is not None
    assert [c["id"] for c in notebook["cells"]] == ["c0", "c1", "c2", "c3"]
    await reopened.close()


async def test_cells_still_unsaved_at_shutdown_are_counted(
    read_only_store: ReadOnlyFile,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    store = make_store(read_only_store.path)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        for i in range(3):
            await save(store, record("k1", seq=i + 1), cell(f"c{i}", i + 1))
        await save(store, record("k1", seq=4), cell("c0", 4))  # the same cell again
        await store.close()
    (lost,) = [w for w in store_warnings(caplog) if "could not be saved" in w]
    assert lost.startswith("3 recorded cells could not be saved")

    read_only_store.undo()
    caplog.clear()
    writable = make_store(read_only_store.path)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        await save(writable, record("k2"), cell("d", 1))
        await writable.close()
    assert not [w for w in store_warnings(caplog) if "could not be saved" in w]  # none lost


@pytest.fixture
def jp_server_config(read_only_store: ReadOnlyFile) -> Config:
    """The server starts with its output store read-only."""
    config = Config(copy.deepcopy(SERVER_CONFIG))
    config.CellStore.path = str(read_only_store.path)
    config.CellStore.interval = 0.05
    return config


async def test_a_server_with_a_read_only_store_records_in_memory_then_catches_up(
    jp_fetch: Any,
    read_only_store: ReadOnlyFile,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_wait_until: Any,
    sc_cell_finished: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    path = read_only_store.path
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    lines = "for i in range(500): print(i, flush=True)"
    for cell_id in ("a", "b", "c"):
        await client.collect(await client.execute(lines, cell_id=cell_id))
        await sc_cell_finished(kernel_id, cell_id)
    expected = "".join(f"{i}\n" for i in range(500))
    await sc_wait_until(lambda: store_warnings(caplog), what="the store's warning")
    sc_registry.find(kernel_id).flush()  # hand the cells to the store now, not in 50 ms
    flushed = sc_registry._store.flush()
    if flushed is not None:
        await flushed

    notebook = json.loads((await jp_fetch("api", "sidecar", "kernels", kernel_id, "notebook")).body)
    assert [c["id"] for c in notebook["cells"]] == ["a", "b", "c"]
    assert all(c["outputs"][0]["text"] == expected for c in notebook["cells"])
    assert stored_cells(path, kernel_id) == {}

    read_only_store.undo()
    await client.collect(await client.execute("print('writable')", cell_id="d"))
    await sc_cell_finished(kernel_id, "d")

    def all_stored() -> bool:  # d's row is written again once its output follows its reply
        stored = stored_cells(path, kernel_id)
        return (
            sorted(stored) == ["a", "b", "c", "d"]
            and all(c["status"] == "ok" for c in stored.values())
            and bool(stored["d"]["outputs"])
        )

    await sc_wait_until(all_stored, timeout=30, what="the kept rows in the store")
    stored = stored_cells(path, kernel_id)
    assert all(stored[cell_id]["outputs"][0]["text"] == expected for cell_id in "abc")
    assert stored["d"]["outputs"][0]["text"] == "writable\n"
    warnings = store_warnings(caplog)
    assert any("writable again" in w for w in warnings)
    (failed,) = [w for w in warnings if "writable again" not in w]  # once, not per batch
    assert READONLY in failed and "in memory" in failed
