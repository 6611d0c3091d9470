"""black and isort settings for a file: the nearest configuration at or above it, never read
from outside a root (the server's root_dir), with a request's options over it.

Nearest wins per tool, as black and isort themselves look: black reads `[tool.black]` of the
nearest pyproject.toml that has one; isort the nearest directory with `.isort.cfg`, a
pyproject.toml `[tool.isort]` or a setup.cfg `[isort]` (in isort's order of preference). The
search stops at the root and at a repository boundary (.git, .hg), like both tools. Results are
cached per directory and re-read when a candidate file's mtime changes.
"""

from __future__ import annotations

import configparser
import dataclasses
import sys
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from .format import KNOWN_TOOLS, RUFF, TOOLS, FormatSpec, Items, black_mode, isort_config

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - black depends on tomli there
    import tomli as tomllib

# Normalized black option -> its JSON type. Spelled with dashes in pyproject.toml.
BLACK_OPTIONS: dict[str, type] = {
    "line_length": int,
    "target_versions": list,
    "skip_string_normalization": bool,
    "skip_magic_trailing_comma": bool,
    "preview": bool,
    "unstable": bool,
    "enable_unstable_feature": list,
    "python_cell_magics": list,
}
_BLACK_ALIASES = {"target_version": "target_versions"}
# isort settings a request may not set: they name files, plugins or paths to search, or only
# make sense for whole files. Settings files under the root may use them.
ISORT_REFUSED = frozenset(
    {
        "settings_file",
        "settings_path",
        "directory",
        "src_paths",
        "virtual_env",
        "conda_env",
        "formatter",
        "formatting_function",
        "sorting_function",
        "sort_order",
        "skip",
        "extend_skip",
        "skip_glob",
        "extend_skip_glob",
        "skip_gitignore",
        "supported_extensions",
        "blocked_extensions",
        "follow_links",
        "filter_files",
        "git_ls_files",
        "overwrite_in_place",
        "only_modified",
        "color_output",
        "verbose",
        "quiet",
        "sources",
        "known_other",
        "import_headings",
        "import_footers",
        "format_error",
        "format_success",
        "add_imports",
    }
)
_ISORT_PREFIXES = ("known_", "import_heading_", "import_footer_")
# Per directory, in isort's order of preference: file name -> sections holding isort settings.
_ISORT_FILES = {
    ".isort.cfg": ("settings", "isort"),
    "pyproject.toml": ("tool.isort",),
    "setup.cfg": ("isort", "tool:isort"),
}
_CANDIDATES = (".isort.cfg", "pyproject.toml", "setup.cfg", ".git", ".hg")
_MAX_CACHED_DIRS = 512
_ECHOED_PATH_CHARS = 200


class ConfigError(ValueError):
    """A bad option, a path outside the root or an unreadable config file (the caller's 400)."""


@dataclasses.dataclass(frozen=True)
class Discovered:
    """What the config files near a directory say."""

    black: Items = ()
    black_file: str = ""
    isort_file: str = ""
    isort_stamp: int = 0


def freeze(options: dict[str, Any]) -> Items:
    """Options as a sorted, hashable tuple (lists become tuples)."""
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))


def _check_value(tool: str, key: str, value: Any, kind: type | None = None) -> Any:
    scalar = (str, int, float, bool)
    if kind is list:
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{tool} option {key!r} must be a list of strings")
        return list(value)
    if kind is int and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
        raise ConfigError(f"{tool} option {key!r} must be a positive integer")
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"{tool} option {key!r} must be true or false")
    if kind is None and not (
        isinstance(value, scalar)
        or (isinstance(value, list) and all(isinstance(v, scalar) for v in value))
    ):
        raise ConfigError(f"{tool} option {key!r} must be a string, number, boolean or list")
    return value


def black_options(raw: Any, strict: bool) -> dict[str, Any]:
    """Normalize black options; unknown keys are errors in requests, ignored in files
    (where `[tool.black]` also holds include/exclude and the like)."""
    if not isinstance(raw, dict):
        raise ConfigError("black options must be an object")
    options: dict[str, Any] = {}
    for key, value in raw.items():
        name = _BLACK_ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in BLACK_OPTIONS:
            if strict:
                known = ", ".join(sorted(BLACK_OPTIONS))
                raise ConfigError(f"unknown black option {key!r} (known: {known})")
            continue
        options[name] = _check_value("black", key, value, BLACK_OPTIONS[name])
    return options


def isort_options(raw: Any) -> dict[str, Any]:
    """Request isort options, minus those that reach for files (names are checked against
    isort's own by `validate`, where isort is imported)."""
    if not isinstance(raw, dict):
        raise ConfigError("isort options must be an object")
    options: dict[str, Any] = {}
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name in ISORT_REFUSED:
            raise ConfigError(f"isort option {key!r} cannot be set in a request")
        options[name] = _check_value("isort", key, value)
    return options


def parse_tools(raw: Any) -> tuple[str, ...]:
    """The tools to run, in order: a non-empty list of distinct "isort" / "black", or
    ["ruff"] (which sorts imports and formats on its own)."""
    if raw is None:
        return TOOLS
    if not isinstance(raw, list) or not raw or not all(isinstance(t, str) for t in raw):
        raise ConfigError('tools must be a non-empty list such as ["isort", "black"]')
    unknown = [t for t in raw if t not in KNOWN_TOOLS]
    if unknown:
        raise ConfigError(f"unknown tool {unknown[0]!r} (known: isort, black, ruff)")
    if len(set(raw)) != len(raw):
        raise ConfigError("tools must not repeat")
    if "ruff" in raw and len(raw) > 1:
        raise ConfigError('ruff sorts imports and formats on its own: give ["ruff"] alone')
    return tuple(raw)


class ConfigFinder:
    """Finds and caches the configuration for directories under `root`. Thread-safe."""

    def __init__(self, root: str | Path | None) -> None:
        self.root = Path(root).resolve() if root is not None else None
        self._cache: OrderedDict[Path, tuple[tuple[Any, ...], Discovered]] = OrderedDict()
        self._lock = threading.Lock()

    def directory_for(self, path: str | None) -> Path | None:
        """The directory of `path` (relative to the root); ConfigError if it leads outside."""
        if self.root is None:
            return None
        if not path:
            return self.root
        try:
            target = (self.root / path.lstrip("/")).resolve()
            is_dir = target.is_dir()
        except (OSError, RuntimeError, ValueError) as error:  # a symlink loop, a NUL byte...
            raise ConfigError(f"cannot resolve path {_shorten(path)!r}: {_why(error)}") from None
        if not target.is_relative_to(self.root):
            raise ConfigError(f"path is outside the server's root: {_shorten(path)!r}")
        return target if is_dir else target.parent

    def find(self, directory: Path | None) -> Discovered:
        if directory is None or self.root is None:
            return Discovered()
        chain = self.chain(directory)
        signature = tuple(self.stamp(d / name) for d in chain for name in _CANDIDATES)
        with self._lock:
            cached = self._cache.get(directory)
            if cached is not None and cached[0] == signature:
                self._cache.move_to_end(directory)
                return cached[1]
        found = self._scan(chain, signature)
        with self._lock:
            self._cache[directory] = (signature, found)
            while len(self._cache) > _MAX_CACHED_DIRS:
                self._cache.popitem(last=False)
        return found

    def chain(self, directory: Path) -> list[Path]:
        """`directory` and its parents up to the root or a repository root, nearest first."""
        assert self.root is not None
        chain = [directory]
        current = directory
        while current != self.root and current.parent != current:
            if (current / ".git").exists() or (current / ".hg").exists():
                break
            current = current.parent
            chain.append(current)
        return chain

    def stamp(self, path: Path) -> int | None:
        """mtime_ns of a candidate file, None if absent or if it resolves outside the root."""
        if path.name in (".git", ".hg"):
            return 0 if path.exists() else None  # only whether a repository starts here
        try:
            stat = path.stat()
        except OSError:
            return None
        if path.is_symlink():
            assert self.root is not None
            if not path.resolve().is_relative_to(self.root):
                return None  # never read a file outside the root through a symlink
        return stat.st_mtime_ns

    def _scan(self, chain: list[Path], signature: tuple[Any, ...]) -> Discovered:
        stamps = iter(signature)
        black: dict[str, Any] | None = None
        black_file = isort_file = ""
        isort_stamp = 0
        for directory in chain:
            present = {name: next(stamps) for name in _CANDIDATES}
            for name in _ISORT_FILES:
                stamp = present[name]
                if stamp is None:
                    continue
                sections = self._read(directory / name)
                if black is None and name == "pyproject.toml" and "tool.black" in sections:
                    black = black_options(sections["tool.black"], strict=False)
                    black_file = str(directory / name)
                if not isort_file and any(s in sections for s in _ISORT_FILES[name]):
                    isort_file, isort_stamp = str(directory / name), stamp
            if black is not None and isort_file:
                break
        return Discovered(freeze(black or {}), black_file, isort_file, isort_stamp)

    def _read(self, path: Path) -> dict[str, Any]:
        """The sections of a config file (`tool.black`, `isort`...) as dicts."""
        shown = self._shown(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"cannot read {shown}: {_why(error)}") from None
        if path.name == "pyproject.toml":
            try:
                tool = tomllib.loads(text).get("tool", {})
            except tomllib.TOMLDecodeError as error:
                raise ConfigError(f"{shown} is not valid TOML: {error}") from None
            return {f"tool.{k}": v for k, v in tool.items() if isinstance(v, dict)}
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        try:
            parser.read_string(text, source=shown)
        except configparser.Error as error:
            raise ConfigError(f"{shown} cannot be parsed: {error}") from None
        return {name: dict(parser[name]) for name in parser.sections()}

    def _shown(self, path: Path) -> str:
        """Paths in messages are relative to the root (the server's file tree)."""
        if self.root is not None and path.is_relative_to(self.root) and self.root != Path("/"):
            return str(path.relative_to(self.root))
        return str(path)


def _shorten(path: str) -> str:
    """A request's path as messages echo it: bounded."""
    return path if len(path) <= _ECHOED_PATH_CHARS else path[: _ECHOED_PATH_CHARS - 1] + "\u2026"


def _why(error: Exception) -> str:
    """An error's reason without the absolute paths OSError and pathlib put in their text
    (a message must not tell a client where the server's files are)."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    if isinstance(error, RuntimeError):
        return "a symlink loop"  # pathlib's only RuntimeError here
    if isinstance(error, UnicodeDecodeError):
        return f"not UTF-8 text (byte {error.start})"
    return str(error)  # ValueError: "embedded null byte"


def build_spec(
    found: Discovered,
    options: Any,
    tools: tuple[str, ...],
    directory: Path | None,
    verify: bool = True,
    check: bool = True,
    ruff: str = "",
    ruff_config: str = "",
) -> FormatSpec:
    """Merge file settings with request options (the request wins); `check` validates the
    result here (the server validates in a worker instead, so it never imports the tools).
    With tools ["ruff"], `ruff` is its executable and `ruff_config` the project's file
    (lint/ruffconfig.py): ruff reads its settings there, a request may set the line length."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ConfigError("options must be an object")
    extra = set(options) - {"black", "isort"}
    if extra:
        raise ConfigError(f"unknown options section {sorted(extra)[0]!r} (known: black, isort)")
    if tools == RUFF:
        spec = _ruff_spec(found, options, directory, ruff, ruff_config)
        if check:
            validate(spec)
        return spec
    black = dict(found.black)
    black.update(black_options(options.get("black", {}), strict=True))
    isort: dict[str, Any] = {}
    if not found.isort_file:
        # No isort configuration: sort the way black formats, so the two never fight.
        isort["profile"] = "black"
        if "line_length" in black:
            isort["line_length"] = black["line_length"]
    isort.update(isort_options(options.get("isort", {})))
    spec = FormatSpec(
        tools=tools,
        black=freeze(black),
        isort=freeze(isort),
        isort_file=found.isort_file,
        isort_stamp=found.isort_stamp,
        directory="" if found.isort_file or directory is None else str(directory),
        verify=verify,
    )
    if check:
        validate(spec)
    return spec


def _ruff_spec(
    found: Discovered, options: dict[str, Any], directory: Path | None, ruff: str, config: str
) -> FormatSpec:
    black = {k: v for k, v in found.black if k == "python_cell_magics"}
    black.update(black_options(options.get("black", {}), strict=True))
    try:
        stamp = Path(config).stat().st_mtime_ns if config else 0
    except OSError:
        stamp = 0
    return FormatSpec(
        tools=RUFF,
        black=freeze(black),
        ruff=ruff,
        ruff_config=config,
        ruff_stamp=stamp,
        ruff_cwd="" if directory is None else str(directory),
    )


def validate(spec: FormatSpec) -> None:
    """Build the black Mode and isort Config once (with ruff: run it on an empty file): bad
    values become a ConfigError."""
    if spec.tools == RUFF:
        from .rufffmt import RuffError, validate_ruff

        try:
            validate_ruff(spec)
        except RuffError as error:
            raise ConfigError(str(error)) from None
        return
    import isort

    fields = {f.name for f in dataclasses.fields(isort.Config)}
    for name, _ in spec.isort:
        if name not in fields and not name.startswith(_ISORT_PREFIXES):
            raise ConfigError(f"unknown isort option {name!r}")
    try:
        black_mode(spec.black)
    except KeyError as error:
        raise ConfigError(f"black: unknown value {error.args[0]!r}") from None
    except (TypeError, ValueError) as error:
        raise ConfigError(f"black: {error}") from None
    try:
        isort_config(spec.isort_file, spec.isort_stamp, spec.directory, spec.isort, True)
    except Exception as error:  # isort raises many kinds (UnsupportedSettings, ValueError...)
        first = str(error).strip().splitlines()
        text = first[0] if first else type(error).__name__
        for path in (spec.isort_file, spec.directory):  # isort names them: not the server's
            if path:
                text = text.replace(path, Path(path).name)
        raise ConfigError(f"isort: {text}") from None
