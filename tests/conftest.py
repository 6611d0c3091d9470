"""Test configuration: pytest-jupyter's server fixtures plus ours, extension enabled."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from traitlets.config import Config

pytest_plugins = [
    "pytest_jupyter.jupyter_server",
    "jupyter_sidecar_ext.pytest_plugin",
    "jupyter_sidecar_ext.pytest_gateway",
]


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """The extension enabled as installed. A test may pass settings as a dict: SidecarApp's
    by name, another class's as a section:
    `@pytest.mark.parametrize("jp_server_config", [{"max_cells": 3}], indirect=True)`,
    `[{"CellStore": {"interval": 0.05}}]`."""
    from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG  # registered by now

    config = Config(copy.deepcopy(SERVER_CONFIG))
    for name, value in getattr(request, "param", {}).items():
        if name[:1].isupper():
            config[name].merge(Config(value))
        else:
            setattr(config.SidecarApp, name, value)
    return config


@pytest.fixture
def server_args(jp_serverapp: Any, jp_http_port: int, jp_base_url: str, jp_fetch: Any) -> list[str]:
    """--url and --token of the test server for `jupyter sidecar` commands (jp_fetch: its
    HTTP server is listening)."""
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}"
    return ["--url", url, "--token", jp_serverapp.identity_provider.token]
