"""SidecarApp's settings from before they moved to the services that use them, kept for one
release: `c.SidecarApp.store_path` still works, forwarded to `c.CellStore.path` with a
warning. 0.2.0 drops them (README "Configuration").

Forwarding writes the new name into the app's config before the services are built (they
read it through `parent`), as jupyter_server 2 does for its moved ServerApp settings; a new
name set explicitly wins over the old one.
"""

from __future__ import annotations

from typing import Any

from traitlets import Bool, Float, Int, List, Set, Unicode, observe
from traitlets.config import LoggingConfigurable

# Old SidecarApp name -> (class, new name).
RENAMED: dict[str, tuple[str, str]] = {
    "max_output_bytes": ("SidecarRegistry", "max_output_bytes"),
    "max_cells": ("SidecarRegistry", "max_cells"),
    "max_retired_kernels": ("SidecarRegistry", "max_retired_kernels"),
    "start_timeout": ("SidecarRegistry", "start_timeout"),
    "event_flush_interval": ("SidecarRegistry", "event_flush_interval"),
    "store_path": ("CellStore", "path"),
    "store_interval": ("CellStore", "interval"),
    "store_max_kernels": ("CellStore", "max_kernels"),
    "store_max_bytes": ("CellStore", "max_bytes"),
    "store_retention_days": ("CellStore", "retention_days"),
    "variables_timeout": ("VariablesService", "timeout"),
    "variables_debounce": ("VariablesService", "debounce"),
    "variables_backoff": ("VariablesService", "backoff"),
    "variables_max_count": ("VariablesService", "max_count"),
    "variables_max_value_chars": ("VariablesService", "max_value_chars"),
    "variables_max_rich_bytes": ("VariablesService", "max_rich_bytes"),
    "variables_show_private": ("VariablesService", "show_private"),
    "variables_hidden_types": ("VariablesService", "hidden_types"),
    "lint_workers": ("LintService", "workers"),
    "lint_prewarm": ("LintService", "prewarm"),
    "lint_worker_nice": ("LintService", "worker_nice"),
    "lint_timeout": ("LintService", "timeout"),
    "lint_max_request_bytes": ("LintService", "max_request_bytes"),
    "lint_max_cells": ("LintService", "max_cells"),
    "lint_cache_entries": ("LintService", "cache_entries"),
    "lint_cache_chars": ("LintService", "cache_chars"),
    "lint_verify": ("LintService", "verify"),
    "release_memory": ("MemoryReleaser", "enabled"),
    "track_activity": ("ActivityTracker", "enabled"),
    "kernel_iopub_hwm": ("KernelLaunch", "iopub_hwm"),
}


def _help(name: str) -> str:
    clsname, new_name = RENAMED[name]
    return f"DEPRECATED, removed in 0.2.0: use {clsname}.{new_name}."


class LegacySettings(LoggingConfigurable):
    """The old names (unset by default), each forwarded to its new place when set."""

    max_output_bytes = Int(None, allow_none=True, config=True, help=_help("max_output_bytes"))
    max_cells = Int(None, allow_none=True, config=True, help=_help("max_cells"))
    max_retired_kernels = Int(None, allow_none=True, config=True, help=_help("max_retired_kernels"))
    start_timeout = Float(None, allow_none=True, config=True, help=_help("start_timeout"))
    event_flush_interval = Float(
        None, allow_none=True, config=True, help=_help("event_flush_interval")
    )
    store_path = Unicode(None, allow_none=True, config=True, help=_help("store_path"))
    store_interval = Float(None, allow_none=True, config=True, help=_help("store_interval"))
    store_max_kernels = Int(None, allow_none=True, config=True, help=_help("store_max_kernels"))
    store_max_bytes = Int(None, allow_none=True, config=True, help=_help("store_max_bytes"))
    store_retention_days = Float(
        None, allow_none=True, config=True, help=_help("store_retention_days")
    )
    variables_timeout = Float(None, allow_none=True, config=True, help=_help("variables_timeout"))
    variables_debounce = Float(None, allow_none=True, config=True, help=_help("variables_debounce"))
    variables_backoff = Float(None, allow_none=True, config=True, help=_help("variables_backoff"))
    variables_max_count = Int(None, allow_none=True, config=True, help=_help("variables_max_count"))
    variables_max_value_chars = Int(
        None, allow_none=True, config=True, help=_help("variables_max_value_chars")
    )
    variables_max_rich_bytes = Int(
        None, allow_none=True, config=True, help=_help("variables_max_rich_bytes")
    )
    variables_show_private = Bool(
        None, allow_none=True, config=True, help=_help("variables_show_private")
    )
    variables_hidden_types = List(
        Unicode(),
        default_value=None,
        allow_none=True,
        config=True,
        help=_help("variables_hidden_types"),
    )
    lint_workers = Int(None, allow_none=True, config=True, help=_help("lint_workers"))
    lint_prewarm = Bool(None, allow_none=True, config=True, help=_help("lint_prewarm"))
    lint_worker_nice = Int(None, allow_none=True, config=True, help=_help("lint_worker_nice"))
    lint_timeout = Float(None, allow_none=True, config=True, help=_help("lint_timeout"))
    lint_max_request_bytes = Int(
        None, allow_none=True, config=True, help=_help("lint_max_request_bytes")
    )
    lint_max_cells = Int(None, allow_none=True, config=True, help=_help("lint_max_cells"))
    lint_cache_entries = Int(None, allow_none=True, config=True, help=_help("lint_cache_entries"))
    lint_cache_chars = Int(None, allow_none=True, config=True, help=_help("lint_cache_chars"))
    lint_verify = Bool(None, allow_none=True, config=True, help=_help("lint_verify"))
    release_memory = Bool(None, allow_none=True, config=True, help=_help("release_memory"))
    track_activity = Bool(None, allow_none=True, config=True, help=_help("track_activity"))
    # None is a value here (start kernels as their spec says): -1 stands for "not set".
    kernel_iopub_hwm = Int(-1, allow_none=True, config=True, help=_help("kernel_iopub_hwm"))

    _forwarded = Set(help="Old names whose value this app put under the new name.")

    @observe(*RENAMED)
    def _forward(self, change: Any) -> None:
        """Put the old name's value under the new one, unless the new one was set itself."""
        old_name = change["name"]
        clsname, new_name = RENAMED[old_name]
        section = self.config[clsname]
        if new_name not in section or old_name in self._forwarded:
            self.log.warning(
                "SidecarApp.%s is deprecated and removed in 0.2.0: use %s.%s",
                old_name,
                clsname,
                new_name,
            )
            section[new_name] = change["new"]
            self._forwarded = self._forwarded | {old_name}
        elif section[new_name] != change["new"]:
            self.log.warning(
                "Ignoring the deprecated SidecarApp.%s: %s.%s is set", old_name, clsname, new_name
            )
