"""SQLite persistence of shadow cells, so recorded outputs survive a server restart.

Writes run on one dedicated thread that owns the read-write connection; the event loop
only snapshots changed cells and hands over a batch every `interval` seconds (the JSON is
encoded on that thread). Reads run on a second thread with their own read-only
connection: in WAL mode readers and the writer do not block each other, so listing stored
kernels never waits behind a write batch or a retention pass. A broken disk never stops
recording: cells stay in memory and the store says once, clearly, that it is not
persisting.
"""

from __future__ import annotations

import asyncio
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


SnapshotSource = Callable[[], list[tuple[KernelRecord, list[dict[str, Any]]]]]


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
        self._reader = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sidecar-store-read")
        # Owned by the reader's thread.
        self._read_db: sqlite3.Connection | None = None
        self._read_generation = 0
        self._read_failing = False
        self._pending: dict[str, tuple[KernelRecord, dict[str, Callable[[], dict[str, Any]]]]] = {}
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
        if not self.file.exists():
            self.log.info("starting a new output store at %s", self.path)
        self.file.parent.mkdir(parents=True, exist_ok=True)
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
        return db

    async def close(self) -> None:
        """Write what is pending and release the database (server shutdown)."""
        self.flush()
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        # The reader first (after the reads already queued), so that the writer closes the
        # last connection: only then does SQLite fold the write-ahead log into the file.
        await self._read(self._close_reader)
        self._reader.shutdown(wait=True)
        await self._run(self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._unwritten_rows or self._unwritten_kernels or self._unwritten_deletes:
            self._write([], [])  # a last try for batches that failed
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
        future = asyncio.ensure_future(self._run(self._write, kernels, rows, deletes))
        self._writes.add(future)
        future.add_done_callback(self._writes.discard)
        return future

    def _write(
        self,
        kernels: list[tuple[Any, ...]],
        rows: list[tuple[Any, ...]],
        deletes: set[tuple[str, str]] | None = None,
    ) -> None:
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
        db = self._ensure_open()
        if db is None:
            return  # kept for the next attempt
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
            return
        self._unwritten_kernels.clear()
        self._unwritten_rows.clear()
        self._unwritten_deletes.clear()
        if not self._healthy:
            self.log.warning("the output store %s is writable again", self.path)
        self._healthy = True

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
        return await self._read(self._query, self._kernels, [], path)

    def _kernels(self, db: sqlite3.Connection, path: str | None) -> list[dict[str, Any]]:
        query = (
            "SELECT k.kernel_id, k.kernel_name, k.path, k.updated, COUNT(c.cell_id) "
            "FROM kernels k LEFT JOIN cells c USING (kernel_id) "
        )
        args: tuple[Any, ...] = ()
        if path is not None:
            query += "WHERE k.path = ? "
            args = (path,)
        query += "GROUP BY k.kernel_id ORDER BY k.updated DESC"
        return [
            {"kernel_id": kid, "kernel_name": name, "path": p, "updated": updated, "cells": n}
            for kid, name, p, updated, n in db.execute(query, args)
        ]

    async def notebook(self, kernel_id: str) -> dict[str, Any] | None:
        """A stored kernel's notebook: {kernel_id, path, seq, run, cells} or None."""
        return await self._read(self._query, self._notebook, None, kernel_id)

    def _notebook(self, db: sqlite3.Connection, kernel_id: str) -> dict[str, Any] | None:
        db.execute("BEGIN")  # one snapshot for both queries: a batch may commit in between
        try:
            row = db.execute(
                "SELECT kernel_name, path, seq, run FROM kernels WHERE kernel_id = ?",
                (kernel_id,),
            ).fetchone()
            if row is None:
                return None
            cells = [
                json.loads(data)
                for (data,) in db.execute(
                    "SELECT data FROM cells WHERE kernel_id = ? ORDER BY seq", (kernel_id,)
                )
            ]
        finally:
            db.commit()
        path, seq, run = row[1:]
        return {"kernel_id": kernel_id, "path": path, "seq": seq, "run": run, "cells": cells}

    def _query(
        self, function: Callable[[sqlite3.Connection, Any], T], empty: T, argument: Any
    ) -> T:
        """Run a read on the reader's connection; a store that cannot be read (not created
        yet, no schema yet, unreadable) reads as nothing stored."""
        db = self._reading()
        if db is None:
            return empty
        try:
            result = function(db, argument)
        except sqlite3.Error as error:
            self._close_reader()  # reopen with the next read: the file may be replaced
            if "no such table" not in str(error) and not self._read_failing:
                self.log.warning(
                    "cannot read the output store %s (%s); stored "
                    "kernels are not listed until it can be read",
                    self.path,
                    error,
                )
                self._read_failing = True
            return empty
        if self._read_failing:
            self.log.warning("the output store %s is readable again", self.path)
            self._read_failing = False
        return result

    def _reading(self) -> sqlite3.Connection | None:
        """The reader's connection: read-only (a read never creates or changes the file),
        opened on first use and again after the writer (re)opened the file."""
        if self._read_db is not None and self._read_generation != self._generation:
            self._close_reader()
        if self._read_db is None:
            generation = self._generation  # before opening: a later reopen is seen next time
            uri = f"{self.file.absolute().as_uri()}?mode=ro"
            try:
                self._read_db = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
            except sqlite3.Error:
                return None  # not created yet (or not reachable): nothing stored
            self._read_generation = generation
        return self._read_db

    def _close_reader(self) -> None:
        if self._read_db is not None:
            self._read_db.close()
            self._read_db = None

    async def _run(self, function: Callable[..., T], *args: Any) -> T:
        """Run on the writer's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        """Run on the reader's thread (never behind a write batch)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, function, *args)
