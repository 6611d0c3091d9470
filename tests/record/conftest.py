"""Builders for CellStore tests (test_store.py, test_store_readonly.py), as fixtures that
return them: a store with roomy limits and a short flush interval, stored cells and kernel
records, and a save that waits for its flush."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_sidecar_ext.record.store import CellStore, KernelRecord


def _make_store(path: Path, **settings: Any) -> CellStore:
    """A store on its own (no app): settings as `c.CellStore.*` would give them."""
    log = logging.getLogger("test-store")
    return CellStore(path=str(path), interval=0.01, log=log, **settings)


def _cell(cell_id: str, seq: int, text: str = "out\n") -> dict[str, Any]:
    return {
        "id": cell_id,
        "msg_id": f"msg-{cell_id}",
        "source": f"print({cell_id!r})",
        "status": "ok",
        "execution_count": seq,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": text}],
        "seq": seq,
    }


def _record(kernel_id: str, path: str | None = "nb.ipynb", seq: int = 1) -> KernelRecord:
    return KernelRecord(kernel_id, "python3", path, seq, 0)


async def _save(store: CellStore, kernel: KernelRecord, *cells: dict[str, Any]) -> None:
    store.save(kernel, {c["id"]: (lambda c=c: c) for c in cells})
    future = store.flush()
    assert future is not None
    await future


@pytest.fixture
def make_store() -> Callable[..., CellStore]:
    return _make_store


@pytest.fixture
def cell() -> Callable[..., dict[str, Any]]:
    return _cell


@pytest.fixture
def record() -> Callable[..., KernelRecord]:
    return _record


@pytest.fixture
def save() -> Callable[..., Awaitable[None]]:
    return _save
