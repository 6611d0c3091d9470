"""`jupyter sidecar` run as users run it: jupyter finds a `jupyter-sidecar` script on PATH
(the console script an install would put there), with this checkout importable."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class SidecarCommand:
    """`argv` (jupyter sidecar) to extend with a subcommand and its arguments, run in
    `environ()`: the environment as it is when the command starts (the server fixtures set
    theirs after this one may have been made), the script's directory first on PATH."""

    argv: list[str]
    bin_dir: Path
    root: Path

    def environ(self) -> dict[str, str]:
        return {
            **os.environ,
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(self.root),
        }


@pytest.fixture
def sidecar_command(tmp_path: Path) -> SidecarCommand:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "jupyter-sidecar"
    script.write_text(f"#!{sys.executable}\nfrom jupyter_sidecar_ext.cli import main\nmain()\n")
    script.chmod(0o755)
    jupyter = Path(sys.executable).parent / "jupyter"
    return SidecarCommand([str(jupyter), "sidecar"], bin_dir, Path(__file__).resolve().parents[2])


@pytest.fixture
def jupyter_sidecar(
    sidecar_command: SidecarCommand,
) -> Callable[..., Awaitable[asyncio.subprocess.Process]]:
    """`jupyter sidecar ARGS` as a subprocess, stdout and stderr piped (stdin too, with
    `stdin=True`: then in a session of its own, without a controlling terminal, so getpass
    reads the pipe as it would a user's terminal)."""

    async def start(*args: str, stdin: bool = False) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            *sidecar_command.argv,
            *args,
            env=sidecar_command.environ(),
            stdin=asyncio.subprocess.PIPE if stdin else None,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=stdin,
        )

    return start
