"""Checks run in check worker processes (lint/checkpool.py, lint/checkjob.py): ruff is their
child, not the server's; a slow ruff, a dying worker and shutdown are handled there; what
they send back is each cell's diagnostics already in the answer's JSON shape."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from jupyter_sidecar_ext.lint.check import CheckError, CheckSpec, find_ruff
from jupyter_sidecar_ext.lint.checkjob import run_check
from jupyter_sidecar_ext.lint.prepare import PreparedCache
from jupyter_sidecar_ext.lint.service import LintService
from jupyter_sidecar_ext.schemas.api import Diagnostic

RUFF = find_ruff()
pytestmark = pytest.mark.skipif(RUFF is None, reason="ruff is not installed")

CELLS = [
    "import os\nimport sys",
    "%matplotlib inline\nfiles = !ls\nprint(os.sep, files, nope)",
    "def f(:",
    "%%bash\necho hi",
    "name = f'x'\nif name == None:  pass",
]


def fake_ruff(tmp_path: Path, body: str) -> str:
    """An executable standing in for ruff: `body` (Python) runs first, then the real ruff."""
    script = tmp_path / "ruff"
    script.write_text(
        f"#!{sys.executable}\nimport os, sys, time\n{body}\n"
        f"os.execv({RUFF!r}, [{RUFF!r}, *sys.argv[1:]])\n"
    )
    script.chmod(0o755)
    return str(script)


async def test_ruff_runs_in_a_check_worker_not_in_the_server(tmp_path: Path) -> None:
    parents = tmp_path / "parents"
    ruff = fake_ruff(tmp_path, f"open({str(parents)!r}, 'a').write(f'{{os.getppid()}}\\n')")
    service = LintService(None, ruff_path=ruff, check_concurrency=1)
    try:
        found = await service.check(None, CELLS)
        # os is used by cell 2 (the cells are checked together), sys nowhere
        assert [d["message"] for d in found[0]] == ["`sys` imported but unused"]
        assert [d["code"] for d in found[1]] == ["F821"]
        (worker,) = service.checks.worker_pids()
        assert worker != os.getpid()
        # two runs (cell 3 does not parse), both children of the worker
        assert parents.read_text().split() == [str(worker), str(worker)]
    finally:
        await service.stop()


async def test_the_worker_answers_as_a_direct_check_does() -> None:
    assert RUFF is not None
    direct = run_check(CELLS, CheckSpec(RUFF), PreparedCache())
    assert direct[0] == "ok"
    service = LintService(None, check_concurrency=1)
    try:
        assert await service.check_json(None, CELLS) == direct[1]
    finally:
        await service.stop()
    for text in direct[1]:  # the answer's shape, as its model would write it
        for item in json.loads(text):
            assert Diagnostic.model_validate(item).model_dump(mode="json", exclude_unset=True) == (
                item
            )


async def test_a_slow_ruff_times_out_and_the_worker_checks_again(tmp_path: Path) -> None:
    marker = tmp_path / "slow"
    marker.touch()
    ruff = fake_ruff(tmp_path, f"if os.path.exists({str(marker)!r}): time.sleep(60)")
    service = LintService(None, ruff_path=ruff, check_timeout=0.5, check_concurrency=1)
    try:
        with pytest.raises(CheckError, match=r"timed out after 0\.5 s"):
            await service.check(None, ["x = 1"])
        marker.unlink()
        (found,) = await service.check(None, ["import os"])
        assert [d["code"] for d in found] == ["F401"]
    finally:
        await service.stop()


async def test_a_worker_killed_while_idle_is_replaced() -> None:
    service = LintService(None, check_concurrency=1)
    try:
        await service.check(None, ["x = 1"])
        (pid,) = service.checks.worker_pids()
        os.kill(pid, signal.SIGKILL)
        found = await service.check(None, ["import os"])
        assert [d["code"] for d in found[0]] == ["F401"]
        assert service.checks.worker_pids() != [pid]
    finally:
        await service.stop()


async def test_a_check_that_kills_its_worker_twice_fails(tmp_path: Path) -> None:
    ruff = fake_ruff(tmp_path, "os.kill(os.getppid(), 9)")
    service = LintService(None, ruff_path=ruff, check_concurrency=1)
    try:
        with pytest.raises(CheckError, match="the check worker died"):
            await service.check(None, ["x = 1"])
    finally:
        await service.stop()


async def test_warm_up_starts_the_check_workers_and_stop_ends_them() -> None:
    service = LintService(None, check_concurrency=2, workers=1)
    service.warm_up()
    processes = [worker.process for worker in service.checks.workers]
    try:
        assert all(p is not None and p.is_alive() for p in processes)
        assert len(await service.check(None, ["x = 1", "y = 2"])) == 2
    finally:
        await service.stop()
    assert not any(p.is_alive() for p in processes)
    with pytest.raises(CheckError, match="shutting down"):
        await service.check(None, ["x = 1"])
