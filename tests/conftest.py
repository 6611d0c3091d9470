"""Test configuration: pytest-jupyter's server fixtures plus ours, extension enabled."""

from __future__ import annotations

import copy

import pytest
from traitlets.config import Config

pytest_plugins = [
    "pytest_jupyter.jupyter_server",
    "jupyter_sidecar_ext.pytest_plugin",
    "jupyter_sidecar_ext.pytest_gateway",
]


@pytest.fixture
def jp_server_config() -> Config:
    """Enable the extension and its kernel websocket connection class."""
    from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG  # registered by now

    return Config(copy.deepcopy(SERVER_CONFIG))
