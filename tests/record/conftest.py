"""Builders for CellStore tests (test_store.py, test_store_readonly.py), as fixtures that
return them: a store with roomy limits and a short flush interval, stored cells and kernel
records, and a save that waits for its flush."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from jupyter_sidecar_ext.record.store import CellStore, KernelRecord, StoreLimits

LIMITS = StoreLimits(max_kernels=100, max_bytes=10**9, retention_seconds=86400.0)


def _make_store(path: Path, limits: StoreLimits = LIMITS, **kwargs: Any) -> CellStore:
    return CellStore(path, limits, logging.getLogger("test-store"), interval=0.01, **kwargs)


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
