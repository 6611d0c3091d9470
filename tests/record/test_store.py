"""CellStore: persistence across restarts, corrupt or missing files, concurrent writers,
retention, a full disk, reads that never wait behind writes; and the server serving
kernels known only from the store."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from jupyter_sidecar_ext.record.store import CellStore


async def test_cells_survive_a_restart(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    path = tmp_path / "data" / "outputs.sqlite"  # the directory does not exist yet
    store = make_store(path)
    with caplog.at_level(logging.INFO, logger="test-store"):
        await save(store, record("k1", seq=2), cell("a", 1), cell("b", 2))
    assert any("starting a new output store" in r.getMessage() for r in caplog.records)
    await save(store, record("k1", seq=3), cell("a", 3, "rerun\n"))
    await store.close()

    reopened = make_store(path)
    notebook = await reopened.notebook("k1")
    assert notebook is not None
    assert notebook["path"] == "nb.ipynb"
    assert notebook["seq"] == 3
    assert [c["id"] for c in notebook["cells"]] == ["b", "a"]  # ordered by last change
    assert notebook["cells"][1]["outputs"][0]["text"] == "rerun\n"
    (kernel,) = await reopened.kernels("nb.ipynb")
    assert kernel["kernel_id"] == "k1" and kernel["cells"] == 2
    assert await reopened.kernels("other.ipynb") == []
    assert await reopened.notebook("unknown") is None
    await reopened.close()


async def test_corrupt_file_starts_clean_with_a_clear_log_line(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    path = tmp_path / "outputs.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = make_store(path)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        await save(store, record("k1"), cell("a", 1))
    assert any(
        "unreadable" in r.getMessage() and "moved it" in r.getMessage() for r in caplog.records
    )
    assert list(tmp_path.glob("outputs.sqlite.corrupt-*"))
    notebook = await store.notebook("k1")
    assert notebook is not None and [c["id"] for c in notebook["cells"]] == ["a"]
    await store.close()


async def test_reads_never_wait_behind_the_writer(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    store = make_store(tmp_path / "outputs.sqlite")
    await save(store, record("k1"), cell("a", 1))
    release = threading.Event()
    blocked = asyncio.ensure_future(store._run(release.wait, 60))  # bounded if the test fails
    try:
        store.save(record("k1", seq=2), {"b": lambda: cell("b", 2)})
        queued = store.flush()  # a write batch waiting behind the blocked writer
        assert queued is not None

        kernels = await asyncio.wait_for(store.kernels(), timeout=30)
        notebook = await asyncio.wait_for(store.notebook("k1"), timeout=30)
        assert [(k["kernel_id"], k["cells"]) for k in kernels] == [("k1", 1)]
        assert notebook is not None and [c["id"] for c in notebook["cells"]] == ["a"]
        assert not blocked.done() and not queued.done()
    finally:
        release.set()
    await blocked
    await queued
    notebook = await store.notebook("k1")
    assert notebook is not None and [c["id"] for c in notebook["cells"]] == ["a", "b"]
    await store.close()


async def test_reading_a_store_not_created_yet_creates_nothing(
    tmp_path: Path, make_store: Any
) -> None:
    path = tmp_path / "data" / "outputs.sqlite"
    store = make_store(path)
    assert await store.kernels() == []
    assert await store.notebook("k1") is None
    assert not path.parent.exists()
    await store.close()


async def test_a_store_without_its_schema_yet_reads_as_nothing_stored(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    path = tmp_path / "outputs.sqlite"
    path.touch()  # as while another server is creating it
    store = make_store(path)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        assert await store.kernels() == []
        assert await store.notebook("k1") is None
    assert not caplog.records
    assert path.stat().st_size == 0
    await save(store, record("k1"), cell("a", 1))
    assert [k["kernel_id"] for k in await store.kernels()] == ["k1"]
    await store.close()


async def test_a_read_after_a_corrupt_file_was_moved_aside_reads_the_new_store(
    tmp_path: Path,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    path = tmp_path / "outputs.sqlite"
    earlier = make_store(path)
    await save(earlier, record("old"), cell("a", 1))
    await earlier.close()
    store = make_store(path)
    assert [k["kernel_id"] for k in await store.kernels()] == ["old"]  # the reader is open

    corrupt = tmp_path / "corrupt"
    corrupt.write_bytes(b"this is not a database" * 100)
    os.replace(corrupt, path)  # the open reader still sees the file it opened
    await save(store, record("new"), cell("b", 1))  # the writer moves the corrupt file aside
    assert list(tmp_path.glob("outputs.sqlite.corrupt-*"))

    assert [k["kernel_id"] for k in await store.kernels()] == ["new"]
    assert await store.notebook("old") is None
    notebook = await store.notebook("new")
    assert notebook is not None and [c["id"] for c in notebook["cells"]] == ["b"]
    await store.close()


async def test_close_releases_both_connections(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    path = tmp_path / "outputs.sqlite"
    store = make_store(path)
    await save(store, record("k1"), cell("a", 1))
    assert [k["kernel_id"] for k in await store.kernels()] == ["k1"]
    await store.close()
    # Only the last connection to close folds the write-ahead log into the file.
    assert not Path(f"{path}-wal").exists()
    assert store._db is None and not store._reader.connected


async def test_concurrent_writers_share_one_file(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    path = tmp_path / "outputs.sqlite"
    first, second = make_store(path), make_store(path)

    async def write(store: CellStore, kernel_id: str) -> None:
        for i in range(30):
            await save(store, record(kernel_id, seq=i + 1), cell(f"c{i}", i + 1))

    await asyncio.gather(write(first, "k1"), write(second, "k2"))
    for kernel_id in ("k1", "k2"):
        notebook = await first.notebook(kernel_id)
        assert notebook is not None and len(notebook["cells"]) == 30
    await first.close()
    await second.close()


async def test_retention_keeps_the_newest_kernels(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    store = make_store(tmp_path / "outputs.sqlite", max_kernels=2, prune_interval=0.0)
    for kernel_id in ("old", "middle", "new"):
        await save(store, record(kernel_id), cell("a", 1))
    assert [k["kernel_id"] for k in await store.kernels()] == ["new", "middle"]
    await store.close()


async def test_size_bound_drops_the_oldest_kernels(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    store = make_store(tmp_path / "outputs.sqlite", max_bytes=25_000, prune_interval=0.0)
    for kernel_id in ("k1", "k2", "k3"):
        await save(store, record(kernel_id), cell("a", 1, "x" * 10_000))
    assert [k["kernel_id"] for k in await store.kernels()] == ["k3", "k2"]
    await store.close()


async def stored_ids(store: CellStore, kernel_id: str) -> list[str]:
    notebook = await store.notebook(kernel_id)
    assert notebook is not None
    return [c["id"] for c in notebook["cells"]]


async def test_forgotten_cells_leave_the_store_and_a_later_save_wins(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    store = make_store(tmp_path / "outputs.sqlite")
    await save(store, record("k1"), cell("a", 1), cell("b", 2), cell("c", 3))
    store.forget("k1", ["a", "b"])  # evicted from the shadow
    await save(store, record("k1"), cell("b", 4, "back\n"))  # the same id again, later
    assert await stored_ids(store, "k1") == ["c", "b"]

    store.save(record("k1"), {"d": lambda: cell("d", 5)})
    store.forget("k1", ["d"])  # evicted before its first write: never written
    future = store.flush()
    assert future is not None
    await future
    assert await stored_ids(store, "k1") == ["c", "b"]
    await store.close()


async def test_a_forget_that_failed_to_write_is_retried(
    tmp_path: Path, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    store = make_store(tmp_path / "outputs.sqlite")
    await save(store, record("k1"), cell("a", 1), cell("b", 2))

    def query_only(on: bool) -> None:
        db = store._ensure_open()
        assert db is not None
        db.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")

    await store._run(query_only, True)  # the next batch fails, as on a read-only disk
    store.forget("k1", ["a"])
    future = store.flush()
    assert future is not None
    await future
    assert await stored_ids(store, "k1") == ["a", "b"]
    await store._run(query_only, False)
    await save(store, record("k1"), cell("c", 3))  # the next batch retries the deletion
    assert await stored_ids(store, "k1") == ["b", "c"]
    await store.close()


async def test_a_full_disk_warns_once_and_recovers(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    store = make_store(tmp_path / "outputs.sqlite")
    await save(store, record("k1"), cell("a", 1))

    def fill_up(pages: int) -> None:
        db = store._ensure_open()
        assert db is not None
        db.execute(f"PRAGMA max_page_count = {pages}")

    (page_count,) = await store._run(
        lambda: store._ensure_open().execute("PRAGMA page_count").fetchone()
    )  # type: ignore[union-attr]
    await store._run(fill_up, page_count)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        for i in range(3):
            await save(store, record("k1"), cell(f"big{i}", i + 2, "y" * 200_000))
    warnings = [r.getMessage() for r in caplog.records if "cannot write" in r.getMessage()]
    assert len(warnings) == 1 and "in memory" in warnings[0]

    await store._run(fill_up, 1_000_000)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="test-store"):
        await save(store, record("k1"), cell("after", 9))
    assert any("writable again" in r.getMessage() for r in caplog.records)
    notebook = await store.notebook("k1")
    assert notebook is not None and "after" in [c["id"] for c in notebook["cells"]]
    await store.close()


async def test_server_serves_kernels_known_only_from_the_store(
    jp_fetch: Any,
    jp_serverapp: Any,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_registry: Any,
    sc_cell_finished: Any,
) -> None:
    kernel_id = await sc_start_kernel(path="kept.ipynb")
    client = await sc_connect(kernel_id, "v1")
    await client.collect(await client.execute("print('persisted')", cell_id="p1"))
    await sc_cell_finished(kernel_id, "p1")
    await jp_fetch("api", "kernels", kernel_id, method="DELETE")
    flushed = sc_registry._store.flush()
    if flushed is not None:
        await flushed
    sc_registry._retired.clear()  # as after a server restart: memory is empty

    kernels = json.loads(
        (await jp_fetch("api", "sidecar", "kernels", params={"path": "kept.ipynb"})).body
    )
    assert [(k["kernel_id"], k["alive"], k["execution_state"]) for k in kernels] == [
        (kernel_id, False, "gone")
    ]
    notebook = json.loads((await jp_fetch("api", "sidecar", "kernels", kernel_id, "notebook")).body)
    assert notebook["alive"] is False
    assert notebook["path"] == "kept.ipynb"
    assert notebook["cells"][0]["outputs"][0]["text"] == "persisted\n"
    cell_json = json.loads(
        (await jp_fetch("api", "sidecar", "kernels", kernel_id, "cells", "p1")).body
    )
    assert cell_json["source"] == "print('persisted')"
    assert Path(jp_serverapp.data_dir, "jupyter_sidecar_ext", "outputs.sqlite").exists()


@pytest.mark.parametrize("jp_server_config", [{"SidecarRegistry": {"max_cells": 3}}], indirect=True)
async def test_cells_evicted_from_memory_leave_the_store_too(
    sc_start_kernel: Any, sc_connect: Any, sc_registry: Any, sc_cell_finished: Any
) -> None:
    """Cells that keep coming under new ids (as from clients without JupyterLab's cell ids:
    HTTP, CLI, consoles) are evicted past max_cells: from the store as from memory."""
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    for n in range(6):
        await client.collect(await client.execute(f"print({n})", cell_id=f"c{n}"))
        await sc_cell_finished(kernel_id, f"c{n}")
    sidecar = sc_registry.get(kernel_id)
    sidecar.flush()  # hand the last changes (and evictions) to the store now
    flushed = sc_registry._store.flush()
    if flushed is not None:
        await flushed
    assert await stored_ids(sc_registry._store, kernel_id) == ["c3", "c4", "c5"]
    assert [c.id for c in sidecar.notebook.cells()] == ["c3", "c4", "c5"]
