"""CellStore: persistence across restarts, corrupt or missing files, concurrent writers,
retention, a full disk; and the server serving kernels known only from the store."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from jupyter_sidecar_ext.store import CellStore, KernelRecord, StoreLimits

LIMITS = StoreLimits(max_kernels=100, max_bytes=10**9, retention_seconds=86400.0)


def make_store(path: Path, limits: StoreLimits = LIMITS, **kwargs: Any) -> CellStore:
    return CellStore(path, limits, logging.getLogger("test-store"), interval=0.01, **kwargs)


def cell(cell_id: str, seq: int, text: str = "out\n") -> dict[str, Any]:
    return {
        "id": cell_id,
        "msg_id": f"msg-{cell_id}",
        "source": f"print({cell_id!r})",
        "status": "ok",
        "execution_count": seq,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": text}],
        "seq": seq,
    }


def record(kernel_id: str, path: str | None = "nb.ipynb", seq: int = 1) -> KernelRecord:
    return KernelRecord(kernel_id, "python3", path, seq, 0)


async def save(store: CellStore, kernel: KernelRecord, *cells: dict[str, Any]) -> None:
    store.save(kernel, {c["id"]: (lambda c=c: c) for c in cells})
    future = store.flush()
    assert future is not None
    await future


async def test_cells_survive_a_restart(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
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
    tmp_path: Path, caplog: pytest.LogCaptureFixture
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


async def test_concurrent_writers_share_one_file(tmp_path: Path) -> None:
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


async def test_retention_keeps_the_newest_kernels(tmp_path: Path) -> None:
    limits = StoreLimits(max_kernels=2, max_bytes=10**9, retention_seconds=86400.0)
    store = make_store(tmp_path / "outputs.sqlite", limits, prune_interval=0.0)
    for kernel_id in ("old", "middle", "new"):
        await save(store, record(kernel_id), cell("a", 1))
    assert [k["kernel_id"] for k in await store.kernels()] == ["new", "middle"]
    await store.close()


async def test_size_bound_drops_the_oldest_kernels(tmp_path: Path) -> None:
    limits = StoreLimits(max_kernels=100, max_bytes=25_000, retention_seconds=86400.0)
    store = make_store(tmp_path / "outputs.sqlite", limits, prune_interval=0.0)
    for kernel_id in ("k1", "k2", "k3"):
        await save(store, record(kernel_id), cell("a", 1, "x" * 10_000))
    assert [k["kernel_id"] for k in await store.kernels()] == ["k3", "k2"]
    await store.close()


async def test_a_full_disk_warns_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
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
