"""The output store's reads, on their own thread with their own read-only connection.

In WAL mode readers and the writer do not block each other, so listing stored kernels
never waits behind a write batch or a retention pass, and a read never creates or changes
the file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class StoreReader:
    """Reads the file the writer (CellStore) keeps: `file` gives its path, `generation`
    how many times the writer (re)opened it, so a file moved aside or recreated is left
    for the one now at the path."""

    def __init__(
        self,
        file: Callable[[], Path],
        generation: Callable[[], int],
        log: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self._file = file
        self._generation = generation
        self.log = log
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sidecar-store-read")
        # Owned by the reader's thread.
        self._db: sqlite3.Connection | None = None
        self._db_generation = 0
        self._failing = False

    @property
    def connected(self) -> bool:
        return self._db is not None

    async def kernels(self, path: str | None = None) -> list[dict[str, Any]]:
        """Stored kernels (newest first), optionally only those of one notebook path."""
        return await self._read(self._query, self._kernels, [], path)

    async def notebook(self, kernel_id: str) -> dict[str, Any] | None:
        """A stored kernel's notebook: {kernel_id, path, seq, run, cells} or None."""
        return await self._read(self._query, self._notebook, None, kernel_id)

    async def close(self) -> None:
        """Close the connection after the reads already queued, and stop the thread."""
        await self._read(self._disconnect)
        self._executor.shutdown(wait=True)

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
        db = self._connection()
        if db is None:
            return empty
        try:
            result = function(db, argument)
        except sqlite3.Error as error:
            self._disconnect()  # reopen with the next read: the file may be replaced
            if "no such table" not in str(error) and not self._failing:
                self.log.warning(
                    "cannot read the output store %s (%s); stored "
                    "kernels are not listed until it can be read",
                    self._file(),
                    error,
                )
                self._failing = True
            return empty
        if self._failing:
            self.log.warning("the output store %s is readable again", self._file())
            self._failing = False
        return result

    def _connection(self) -> sqlite3.Connection | None:
        """Read-only (a read never creates or changes the file), opened on first use and
        again after the writer (re)opened the file."""
        if self._db is not None and self._db_generation != self._generation():
            self._disconnect()
        if self._db is None:
            generation = self._generation()  # before opening: a later reopen is seen next time
            uri = f"{self._file().absolute().as_uri()}?mode=ro"
            try:
                self._db = sqlite3.connect(uri, uri=True, timeout=10.0, isolation_level=None)
            except sqlite3.Error:
                return None  # not created yet (or not reachable): nothing stored
            self._db_generation = generation
        return self._db

    def _disconnect(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _read(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)
