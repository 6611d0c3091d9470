"""Test configuration: pytest-jupyter's server fixtures plus ours, extension enabled."""

from __future__ import annotations

import copy
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from traitlets.config import Config

pytest_plugins = [
    "pytest_jupyter.jupyter_server",
    "jupyter_sidecar_ext.pytest_plugin",
    "jupyter_sidecar_ext.pytest_gateway",
]

# The fuzz tests' hypothesis profile (tests/protocol/test_fuzz_frames.py,
# tests/handlers/test_fuzz_rest.py), applied by name, not loaded for every test. Runs are
# derandomized with no example database: the same examples on every machine, so a CI failure
# reproduces locally as is. `SIDECAR_FUZZ_EXPLORE=1` draws fresh examples, five times as many.
# The examples run on the server's loop inside one sync test, hence no deadline and the two
# health checks off.
_EXPLORE = os.environ.get("SIDECAR_FUZZ_EXPLORE") == "1"
settings.register_profile(
    "sidecar-fuzz",
    max_examples=1000 if _EXPLORE else 200,
    deadline=None,
    derandomize=not _EXPLORE,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest) -> Config:
    """The extension enabled as installed. A test may pass settings as a dict: SidecarApp's
    by name, another class's as a section:
    `@pytest.mark.parametrize("jp_server_config", [{"execution_queue": False}], indirect=True)`,
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
