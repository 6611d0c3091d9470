"""The output store's files are their owner's only, whatever the umask: the directory 0700,
the database, its -wal and -shm files and moved-aside corrupt copies 0600; what an earlier
run left looser is tightened with a log line; a directory that holds other files than the
store's is left as it is (the files alone keep others out).

"Others cannot read them" is checked for real, as the Unix user nobody (the tests run as
root here and in CI; elsewhere that check skips and says why), under a directory nobody
can reach, so that only the store's own modes stand in the way.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

NOBODY = 65534
LOOSE_UMASK = 0o022


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def become_nobody() -> None:
    os.setgroups([])  # root's groups would let it read group-readable files
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def readable_by_nobody(*paths: Path) -> list[Path]:
    """The paths the user nobody can open and read."""
    if os.geteuid() != 0:
        pytest.skip("reading as another Unix user (nobody) needs root to switch users")
    script = 'for p in "$@"; do cat -- "$p" >/dev/null 2>&1 && echo "$p"; done; true'
    done = subprocess.run(
        ["/bin/sh", "-c", script, "sh", *map(str, paths)],
        preexec_fn=become_nobody,
        capture_output=True,
        text=True,
        check=True,
    )
    return [Path(line) for line in done.stdout.splitlines()]


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory every user can reach (0755 under /tmp), with a file anyone may read:
    the control that the check as nobody does read what it is allowed to."""
    base = Path(tempfile.mkdtemp(prefix="sidecar-private-", dir="/tmp"))
    base.chmod(0o755)
    (base / "public.txt").write_text("anyone may read this\n")
    (base / "public.txt").chmod(0o644)
    yield base
    shutil.rmtree(base)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    previous = os.umask(LOOSE_UMASK)
    try:
        yield
    finally:
        os.umask(previous)


def store_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.startswith("outputs.sqlite"))


async def test_every_file_the_store_creates_is_private(
    shared: Path, loose_umask: None, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    path = shared / "store" / "outputs.sqlite"  # created by the store
    store = make_store(path)
    await save(store, record("k1"), cell("a", 1, "AWS_SECRET=hunter2\n"))
    assert await store.kernels()  # the read-only reader reads the private file
    corrupt = shared / "corrupt"
    corrupt.write_bytes(b"this is not a database" * 100)  # 0644 under the umask
    os.replace(corrupt, path)  # the next batch moves it aside and starts anew
    await save(store, record("k2"), cell("b", 1))

    files = store_files(path.parent)
    names = [p.name for p in files]
    assert {"outputs.sqlite", "outputs.sqlite-wal", "outputs.sqlite-shm"} <= set(names)
    assert any(name.startswith("outputs.sqlite.corrupt-") for name in names)
    assert {p.name: mode(p) for p in files} == {name: 0o600 for name in names}
    assert mode(path.parent) == 0o700
    assert [k["kernel_id"] for k in await store.kernels()] == ["k2"]
    assert readable_by_nobody(*files, shared / "public.txt") == [shared / "public.txt"]
    await store.close()


async def test_in_a_directory_of_other_files_the_files_alone_keep_others_out(
    shared: Path, loose_umask: None, make_store: Any, cell: Any, record: Any, save: Any
) -> None:
    """CellStore.path configured beside the user's own files: their directory is not
    ours to chmod; the store's files are private all the same."""
    path = shared / "outputs.sqlite"
    store = make_store(path)
    await save(store, record("k1"), cell("a", 1, "AWS_SECRET=hunter2\n"))
    files = store_files(shared)
    assert [p.name for p in files] == ["outputs.sqlite", "outputs.sqlite-shm", "outputs.sqlite-wal"]
    assert all(mode(p) == 0o600 for p in files)
    assert mode(shared) == 0o755 and mode(shared / "public.txt") == 0o644
    assert readable_by_nobody(*files, shared / "public.txt") == [shared / "public.txt"]
    await store.close()


async def test_an_earlier_store_readable_by_others_is_tightened_with_a_log_line(
    shared: Path,
    loose_umask: None,
    caplog: pytest.LogCaptureFixture,
    make_store: Any,
    cell: Any,
    record: Any,
    save: Any,
) -> None:
    """As an earlier version left it: 0755 directory, 0644 files (-wal and -shm held
    open by another connection)."""
    directory = shared / "store"
    directory.mkdir(mode=0o755)
    path = directory / "outputs.sqlite"
    earlier = sqlite3.connect(path)
    try:
        earlier.execute("PRAGMA journal_mode=WAL")
        earlier.execute("CREATE TABLE earlier (secret TEXT)")
        earlier.execute("INSERT INTO earlier VALUES ('hunter2')")
        earlier.commit()
        files = store_files(directory)
        assert len(files) == 3 and all(mode(p) == 0o644 for p in files)
        assert len(readable_by_nobody(*files)) == 3  # the exposure this fixes

        store = make_store(path)
        with caplog.at_level(logging.WARNING, logger="test-store"):
            await save(store, record("k1"), cell("a", 1))
        (line,) = [r.getMessage() for r in caplog.records if "other users" in r.getMessage()]
        for name in ("store 0755 -> 0700", "outputs.sqlite 0644 -> 0600", "-wal 0644", "-shm 0644"):
            assert name in line
        assert {p.name: mode(p) for p in store_files(directory)} == {p.name: 0o600 for p in files}
        assert mode(directory) == 0o700
        assert readable_by_nobody(*files) == []
        assert [k["kernel_id"] for k in await store.kernels()] == ["k1"]
        await store.close()
    finally:
        earlier.close()

    caplog.clear()
    reopened = make_store(path)
    with caplog.at_level(logging.WARNING, logger="test-store"):
        await save(reopened, record("k2"), cell("b", 1))
    assert not [r for r in caplog.records if "other users" in r.getMessage()]  # once
    await reopened.close()
