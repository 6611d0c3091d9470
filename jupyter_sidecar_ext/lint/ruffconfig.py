"""The ruff configuration for a file, found as the formatter's is (lint/config.py).

The nearest `.ruff.toml`, `ruff.toml` or pyproject.toml with a `[tool.ruff]` table, at or
above the file and never above the server's root (nor across a repository boundary). ruff is
then given that file alone (`--config`), so it reads nothing else; an `extend` leading
outside the root is refused.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .check import CheckSpec
from .config import ConfigError, ConfigFinder, Discovered
from .format import PYTHON_CELL_MAGICS, RUFF, TOOLS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

RUFF_FILES = (".ruff.toml", "ruff.toml", "pyproject.toml")


def find_ruff_config(finder: ConfigFinder, directory: Path | None) -> str:
    """The config file's path, or "" when there is none (ruff then runs isolated)."""
    if directory is None or finder.root is None:
        return ""
    for candidate_dir in finder.chain(directory):
        for name in RUFF_FILES:
            path = candidate_dir / name
            if finder.stamp(path) is None:
                continue
            table = _ruff_table(path, finder)
            if table is None:
                continue
            _check_extend(path, table, finder.root)
            return str(path)
    return ""


def _ruff_table(path: Path, finder: ConfigFinder) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        shown = path.name if finder.root is None else path.relative_to(finder.root)
        raise ConfigError(f"cannot read {shown}: {type(error).__name__}") from None
    if path.name != "pyproject.toml":
        return data
    table = data.get("tool", {}).get("ruff")
    return table if isinstance(table, dict) else None


def _check_extend(path: Path, table: dict[str, Any], root: Path) -> None:
    extend = table.get("extend")
    if extend is None:
        return
    target = (path.parent / str(extend)).expanduser().resolve()
    if not target.is_relative_to(root):
        raise ConfigError(f"{path.relative_to(root)}: ruff's 'extend' leads outside the root")


def choose_tools(
    found: Discovered, ruff_config: str, formatter: str, has_ruff: bool
) -> tuple[str, ...]:
    """The formatter when a request does not name one. `formatter` is the server's setting:
    "black" (isort + black) or "ruff" always, "project" (the default) lets the project decide:
    ruff when a ruff configuration is found (`.ruff.toml`, `ruff.toml` or a pyproject.toml
    with `[tool.ruff]`) and no `[tool.black]` in the same or a nearer directory, else isort +
    black. Without a ruff executable, isort + black."""
    if not has_ruff or formatter == "black":
        return TOOLS
    if formatter == "ruff":
        return RUFF
    if not ruff_config:
        return TOOLS
    if found.black_file:
        ruff_dir, black_dir = Path(ruff_config).parent, Path(found.black_file).parent
        if ruff_dir == black_dir or not ruff_dir.is_relative_to(black_dir):
            return TOOLS  # the black section is as near as ruff's, or nearer
    return RUFF


def check_spec(
    finder: ConfigFinder, path: str | None, ruff: str, timeout: float = 30.0
) -> CheckSpec:
    """How to run ruff's checker for the file at `path` (relative to the finder's root):
    the project's ruff config, the Python cell magics black is told of, the file's name
    (for per-file-ignores) and where ruff runs. ConfigError for a bad path or config."""
    directory = finder.directory_for(path)
    config = find_ruff_config(finder, directory)
    black = dict(finder.find(directory).black)
    magics = PYTHON_CELL_MAGICS | frozenset(black.get("python_cell_magics", ()))
    name = Path(path).name if path and path.endswith((".py", ".ipynb")) else "notebook.ipynb"
    filename = str(directory / name) if directory is not None else name
    # ruff resolves a --config file's patterns (per-file-ignores) from where it runs.
    cwd = str(Path(config).parent) if config else directory
    return CheckSpec(ruff, config, filename, str(cwd) if cwd else None, timeout, magics)
