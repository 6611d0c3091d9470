"""A sidecar beside every Jupyter kernel: records outputs server-side and serves them over REST."""

from __future__ import annotations

from typing import Any

from ._version import __version__

__all__ = ["__version__"]

LABEXTENSION_NAME = "jupyter-sidecar-ext"


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import SidecarApp

    return [{"module": "jupyter_sidecar_ext.app", "app": SidecarApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": LABEXTENSION_NAME}]
