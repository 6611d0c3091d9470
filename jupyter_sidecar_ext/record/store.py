"""SQLite persistence of shadow cells, so recorded outputs survive a server restart.

Writes run on one dedicated thread that owns the read-write connection; the event loop
only snapshots changed cells and hands over a batch every `interval` seconds (the JSON is
encoded on that thread). Reads run on a second thread (store_reader.py). A broken disk
never stops recording: cells stay in memory and the store says once, clearly, that it is
not persisting. Recorded outputs may hold secrets: the store's files are its owner's only
(0600, in a 0700 directory), and a file deleted or replaced under it is recreated from
what memory holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from traitlets import Float, Int, Unicode
from traitlets.config import LoggingConfigurable

from .store_files import Identity, change, open_private
from .store_reader import StoreReader

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kernels (
    kernel_id TEXT PRIMARY KEY,
    kernel_name TEXT NOT NULL DEFAULT '',
    path TEXT,
    seq INTEGER NOT NULL DEFAULT 0,
    run INTEGER NOT NULL DEFAULT 0,
    updated REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS kernels_by_path ON kernels (path, updated);
CREATE TABLE IF NOT EXISTS cells (
    kernel_id TEXT NOT NULL,
    cell_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    data TEXT NOT NULL,
    updated REAL NOT NULL,
    PRIMARY KEY (kernel_id, cell_id)
);
"""

T = TypeVar("T")


@dataclass(frozen=True)
class KernelRecord:
    """What is stored about a kernel beside its cells."""

    kernel_id: str
    kernel_name: str
    path: str | None
    seq: int
    run: int


CellSnapshots = dict[str, Callable[[], dict[str, Any]]]
# Every cell memory holds, as `save` takes them: what a recreated file is filled with.
MemorySource = Callable[[], list[tuple[KernelRecord, CellSnapshots]]]


class CellStore(LoggingConfigurable):
    """Batched writer and on-demand reader of recorded cells (`c.CellStore.*`)."""

    path = Unicode(
        "",
        config=True,
        help="The SQLite file; empty means jupyter_sidecar_ext/outputs.sqlite in the "
        "server's data directory.",
    )
    interval = Float(
        1.0, config=True, help="Seconds over which changed cells are batched into one write."
    )
    max_kernels = Int(200, config=True, help="Kernels kept in the store, newest first.")
    max_bytes = Int(
        512 * 1024 * 1024,
        config=True,
        help="Bytes of recorded cells kept in the store; the oldest kernels go first.",
    )
    retention_days = Float(
        30.0, config=True, help="Days a kernel's recorded cells are kept after its last change."
    )
    prune_interval = Float(60.0, help="Seconds between retention passes (they scan the table).")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sidecar-store")
        self._db: sqlite3.Connection | None = None
        # Bumped by the writer each time it (re)opens the file (e.g. after moving a corrupt
        # one aside): the reader then reopens too, instead of reading a file gone from `path`.
        self._generation = 0
        self._reader = StoreReader(lambda: self.file, lambda: self._generation, self.log)
        # (device, inode) of the file the writer opened: a batch that finds another one at
        # `path` (deleted, replaced) recreates it and writes what memory holds.
        self._identity: Identity | None = None
        self._memory: MemorySource | None = None
        self._pending: dict[str, tuple[KernelRecord, CellSnapshots]] = {}
        self._flush_handle: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Future[None]] = set()
        self._healthy = True
        self._last_prune = -float("inf")  # retention passes scan the table: rarely
        # Owned by the store's thread: rows of batches that failed, keyed for coalescing.
        self._unwritten_kernels: dict[str, tuple[Any, ...]] = {}
        self._unwritten_rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        self._unwritten_deletes: set[tuple[str, str]] = set()
        # (kernel id, cell id) of cells the shadow evicted, deleted with the next batch
        self._forgotten: set[tuple[str, str]] = set()

    @property
    def file(self) -> Path:
        """The database file (`path`, which the app sets when it is not configured)."""
        if not self.path:
            raise ValueError("CellStore.path is not set")
        return Path(self.path)

    def set_memory_source(self, source: MemorySource) -> None:
        """How to get every cell memory holds (the registry's notebooks), to write them
        again into a file recreated after it was deleted or replaced."""
        self._memory = source

    # -- lifecycle -------------------------------------------------------------------------

    def _ensure_open(self) -> sqlite3.Connection | None:
        """Open on first use, on the store's thread (no event-loop start hook needed); after
        a failure that may pass (locked, read-only, no such directory), again next time."""
        if self._db is None:
            self._open()
        return self._db

    def _open(self) -> None:
        try:
            self._db = self._connect()
            self._generation += 1
        except (sqlite3.OperationalError, OSError) as error:
            # Not the file's fault (another writer holds a lock, a read-only or full disk):
            # never move a healthy database aside for it.
            if self._healthy:
                self.log.warning(
                    "cannot open the output store %s (%s); outputs are "
                    "kept in memory and opening is retried with the next write",
                    self.path,
                    error,
                )
            self._healthy = False
        except sqlite3.DatabaseError as error:
            aside = self.file.with_name(f"{self.file.name}.corrupt-{int(time.time())}")
            self.log.warning(
                "the output store %s is unreadable (%s); moved it to %s "
                "and starting with an empty store",
                self.path,
                error,
                aside,
            )
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{self.file}{suffix}")
                if source.exists():
                    source.replace(Path(f"{aside}{suffix}"))
            self._db = self._connect()
            self._generation += 1

    def _connect(self) -> sqlite3.Connection:
        identity = open_private(self.file, self.log)
        # IMMEDIATE: take the write lock when a batch starts, so a concurrent writer makes
        # us wait (busy timeout) instead of failing on a lock upgrade.
        db = sqlite3.connect(self.file, timeout=10.0, isolation_level="IMMEDIATE")
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        self._identity = identity
        return db

    def _reopen_if_replaced(self) -> bool:
        """Whether the file at `path` was deleted or replaced since the writer opened it
        (writes would go on into the unlinked file and be lost); if so, say so and open the
        file now at `path` (created anew if none), which the caller fills from memory."""
        if self._db is None or self._identity is None:
            return False
        what = change(self.file, self._identity)
        if what is None:
            return False
        self.log.warning(
            "the output store %s was %s while the server ran; writing the cells held in "
            "memory to the file now at that path",
            self.path,
            what,
        )
        with contextlib.suppress(sqlite3.Error):
            # Empty our write-ahead log, which may still sit at `path`-wal: SQLite would
            # replay it onto the file now at `path`. (Closing a moved file neither
            # checkpoints nor deletes anything by name.)
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        self._db = None
        self._identity = None
        self._open()
        return True

    # -- lifecycle, continued ----------------------------------------------------------------

    async def close(self) -> None:
        """Write what is pending and release the database (server shutdown)."""
        if await self._run(self._reopen_if_replaced):
            self._save_memory()
        await self._drain()
        # The reader first (after the reads already queued), so that the writer closes the
        # last connection: only then does SQLite fold the write-ahead log into the file.
        await self._reader.close()
        await self._run(self._close)
        self._executor.shutdown(wait=True)

    async def _drain(self) -> None:
        """Flush until nothing is pending, also what a batch that recreated the file
        asked to write again."""
        while True:
            self.flush()
            writes = list(self._writes)
            if not writes:
                return
            await asyncio.gather(*writes, return_exceptions=True)
            self._writes.difference_update(writes)

    def _close(self) -> None:
        if self._unwritten_rows or self._unwritten_kernels or self._unwritten_deletes:
            self._write([], [])  # a last try for batches that failed
        if self._unwritten_rows:
            self.log.warning(
                "%d recorded cells could not be saved to the output store %s; they are "
                "lost with this server",
                len(self._unwritten_rows),
                self.path,
            )
        if self._db is not None:
            self._db.close()
            self._db = None

    # -- writing ---------------------------------------------------------------------------

    def save(self, kernel: KernelRecord, cells: dict[str, Callable[[], dict[str, Any]]]) -> None:
        """Remember the latest state of changed cells; they are snapshotted at the next batch
        (`cells` maps cell id -> a function giving its JSON-able dict, called on the event
        loop). The dict is encoded on the store's thread: it must be one nobody mutates
        afterwards (ShadowCell.to_dict builds a fresh one around outputs that are replaced,
        never changed in place)."""
        pending = self._pending.get(kernel.kernel_id, (kernel, {}))[1]
        pending.update(cells)
        self._pending[kernel.kernel_id] = (kernel, pending)
        if self._forgotten:
            self._forgotten.difference_update((kernel.kernel_id, cell_id) for cell_id in cells)
        self._schedule_flush()

    def forget(self, kernel_id: str, cell_ids: list[str]) -> None:
        """Delete cells the shadow evicted (past max_cells) with the next batch, so a kernel's
        stored notebook stays as bounded as its shadow; a later save of the id wins."""
        pending = self._pending.get(kernel_id)
        for cell_id in cell_ids:
            if pending is not None:
                pending[1].pop(cell_id, None)
            self._forgotten.add((kernel_id, cell_id))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flush_handle is None:
            loop = asyncio.get_running_loop()
            self._flush_handle = loop.call_later(self.interval, self.flush)

    def flush(self) -> asyncio.Future[None] | None:
        """Snapshot pending cells now; encode and write them on the store's thread."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if not self._pending and not self._forgotten:
            return None
        now = time.time()
        kernels: list[tuple[Any, ...]] = []
        rows: list[tuple[Any, ...]] = []
        for kernel, cells in self._pending.values():
            kernels.append(
                (kernel.kernel_id, kernel.kernel_name, kernel.path, kernel.seq, kernel.run, now)
            )
            for cell_id, snapshot in cells.items():
                data = snapshot()
                rows.append((kernel.kernel_id, cell_id, data.get("seq", 0), data, now))
        self._pending.clear()
        deletes, self._forgotten = self._forgotten, set()
        future = asyncio.ensure_future(self._write_batch(kernels, rows, deletes))
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)
        return future

    async def _write_batch(
        self, kernels: list[tuple[Any, ...]], rows: list[tuple[Any, ...]], deletes: set[Any]
    ) -> None:
        if await self._run(self._write, kernels, rows, deletes):
            self._save_memory()

    def _save_memory(self) -> None:
        """The file was recreated: write again every cell memory holds (with the next
        batch), not only those changed since."""
        if self._memory is not None:
            for kernel, cells in self._memory():
                self.save(kernel, cells)

    def _write(
        self,
        kernels: list[tuple[Any, ...]],
        rows: list[tuple[Any, ...]],
        deletes: set[tuple[str, str]] | None = None,
    ) -> bool:
        """Write a batch; True when the file had to be recreated first (deleted or
        replaced), so that memory is written again."""
        # A batch that could not be written is retried with the next one (newest row per
        # kernel and per cell wins, a deletion after a row or a row after a deletion), so a
        # passing failure loses nothing.
        self._unwritten_kernels.update((k[0], k) for k in kernels)
        for key in deletes or ():
            self._unwritten_rows.pop(key, None)
            self._unwritten_deletes.add(key)
        for kernel_id, cell_id, seq, data, updated in rows:
            key = (kernel_id, cell_id)
            self._unwritten_deletes.discard(key)
            self._unwritten_rows[key] = (kernel_id, cell_id, seq, json.dumps(data), updated)
        kernels = list(self._unwritten_kernels.values())
        rows = list(self._unwritten_rows.values())
        gone = list(self._unwritten_deletes)
        recreated = self._reopen_if_replaced()
        db = self._ensure_open()
        if db is None:
            return recreated  # kept for the next attempt
        try:
            with db:
                db.executemany(
                    "INSERT INTO kernels (kernel_id, kernel_name, path, seq, run, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (kernel_id) DO UPDATE SET "
                    "kernel_name=excluded.kernel_name, path=COALESCE(excluded.path, path), "
                    "seq=excluded.seq, run=excluded.run, updated=excluded.updated",
                    kernels,
                )
                db.executemany("DELETE FROM cells WHERE kernel_id = ? AND cell_id = ?", gone)
                db.executemany(
                    "INSERT OR REPLACE INTO cells (kernel_id, cell_id, seq, data, updated) "
                    "VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
            if time.monotonic() - self._last_prune >= self.prune_interval:
                self._last_prune = time.monotonic()
                self._prune(db)
        except sqlite3.Error as error:
            if self._healthy:
                self.log.warning(
                    "cannot write to the output store %s (%s); recording "
                    "continues in memory and writes will be retried",
                    self.path,
                    error,
                )
            self._healthy = False
            return recreated
        self._unwritten_kernels.clear()
        self._unwritten_rows.clear()
        self._unwritten_deletes.clear()
        if not self._healthy:
            self.log.warning("the output store %s is writable again", self.path)
        self._healthy = True
        return recreated

    def _prune(self, db: sqlite3.Connection) -> None:
        """Apply retention: age, number of kernels, then total size (oldest kernels first)."""
        cutoff = time.time() - self.retention_days * 86400
        stale = [
            k for (k,) in db.execute("SELECT kernel_id FROM kernels WHERE updated < ?", (cutoff,))
        ]
        stale += [
            k
            for (k,) in db.execute(
                "SELECT kernel_id FROM kernels ORDER BY updated DESC LIMIT -1 OFFSET ?",
                (self.max_kernels,),
            )
        ]
        (total,) = db.execute("SELECT COALESCE(SUM(LENGTH(data)), 0) FROM cells").fetchone()
        if total > self.max_bytes:
            for kernel_id, size in db.execute(
                "SELECT k.kernel_id, COALESCE(SUM(LENGTH(c.data)), 0) FROM kernels k "
                "LEFT JOIN cells c USING (kernel_id) GROUP BY k.kernel_id ORDER BY k.updated"
            ).fetchall():
                if total <= self.max_bytes:
                    break
                stale.append(kernel_id)
                total -= size
        if stale:
            with db:
                for table in ("cells", "kernels"):
                    db.executemany(
                        f"DELETE FROM {table} WHERE kernel_id = ?", [(k,) for k in set(stale)]
                    )

    # -- reading ---------------------------------------------------------------------------

    async def kernels(self, path: str | None = None) -> list[dict[str, Any]]:
        """Stored kernels (newest first), optionally only those of one notebook path."""
        return await self._reader.kernels(path)

    async def notebook(self, kernel_id: str) -> dict[str, Any] | None:
        """A stored kernel's notebook: {kernel_id, path, seq, run, cells} or None."""
        return await self._reader.notebook(kernel_id)

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        """Run on the writer's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)
