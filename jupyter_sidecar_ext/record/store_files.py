"""The output store's files on disk: its owner's only, and still the ones it opened.

Recorded outputs may hold secrets (a printed token, a dataframe of customer data), so the
database, its -wal and -shm files and moved-aside corrupt copies are 0600 in a 0700
directory whatever the umask, as jupyter_server keeps its own secrets.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import Any

PRIVATE_FILE = 0o600
PRIVATE_DIRECTORY = 0o700
OTHERS = 0o077  # group and other permission bits

Identity = tuple[int, int]  # (device, inode)
Log = logging.Logger | logging.LoggerAdapter[Any]


def open_private(file: Path, log: Log) -> Identity:
    """Create the database file 0600 (and a missing directory 0700) before SQLite opens
    it: SQLite gives the -wal and -shm files it creates the database file's mode. Looser
    modes an earlier run left are tightened. Returns the file's identity."""
    directory = file.parent
    if not directory.exists():
        directory.mkdir(parents=True, mode=PRIVATE_DIRECTORY)
        directory.chmod(PRIVATE_DIRECTORY)  # beat the umask
    try:
        fd = os.open(file, os.O_RDONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        fd = os.open(file, os.O_RDONLY)  # read-only files (a read-only store) open too
    else:
        log.info("starting a new output store at %s", file)
        os.fchmod(fd, PRIVATE_FILE)
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    entries = list(directory.iterdir())
    ours = [path for path in entries if is_store_file(file, path.name)]
    # The directory only when it is the store's own (nothing else in it): never the home
    # or project directory a configured path may sit in.
    if len(ours) == len(entries):
        ours.append(directory)
    tighten(file, ours, log)
    return info.st_dev, info.st_ino


def is_store_file(file: Path, name: str) -> bool:
    """The database, its companions, and corrupt copies moved aside (with theirs)."""
    base = file.name
    return name in {base, f"{base}-wal", f"{base}-shm", f"{base}-journal"} or (
        name.startswith(f"{base}.corrupt-")
    )


def tighten(file: Path, paths: list[Path], log: Log) -> None:
    """Take group and other permissions off (never adding any: a read-only file stays
    read-only), with one log line for what changed and one for what could not."""
    changed: list[str] = []
    failed: list[str] = []
    for path in paths:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if mode & OTHERS:
                path.chmod(mode & ~OTHERS)
                changed.append(f"{path.name} {mode:04o} -> {mode & ~OTHERS:04o}")
        except OSError as error:
            failed.append(f"{path.name} ({error.strerror})")
    if changed:
        log.warning(
            "the output store %s was readable by other users; made it its owner's only: %s",
            file,
            ", ".join(changed),
        )
    if failed:
        log.warning("cannot make the output store %s its owner's only: %s", file, ", ".join(failed))


def change(file: Path, identity: Identity) -> str | None:
    """'deleted' or 'replaced' when the file at `file` is no longer the one opened."""
    try:
        info = os.stat(file)
    except FileNotFoundError:
        return "deleted"
    except OSError:
        return None  # cannot tell: the next write says what is wrong
    return None if (info.st_dev, info.st_ino) == identity else "replaced"
