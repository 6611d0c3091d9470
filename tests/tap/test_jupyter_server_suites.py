"""jupyter_server's own tests with the extension loaded: its gateway tests (`tests/test_gateway.py`
of its sdist, against a mocked gateway) and its kernel tests (`tests/services/kernels/`: the
kernel REST API, websocket connections, buffering and replay across reconnects, restarts,
culling). What stock promises there, e.g. that a kernel websocket is accepted while the
gateway's side is slow or that a reconnecting page gets what it missed, must hold with the
extension too (it serves those websockets).

Upstream's suite rather than a port: it is the contract of the installed server version,
kept by its maintainers, and it needs no gateway process. scripts/test.sh downloads the
sdist of the installed version and names it in SIDECAR_JUPYTER_SERVER_SDIST; nothing is
downloaded here (without it, the test is skipped and says why).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import jupyter_server
import pytest

SDIST_VARIABLE = "SIDECAR_JUPYTER_SERVER_SDIST"
# Loads the extension in every server upstream's tests make. A conftest above upstream's
# tests/ wins over pytest-jupyter's plugin fixture, which it wraps.
CONFTEST = """
import pytest


def with_extension(config):
    server_app = config.setdefault("ServerApp", {})
    server_app.setdefault("jpserver_extensions", {})["jupyter_sidecar_ext"] = True
    return config


@pytest.fixture
def jp_configurable_serverapp(jp_server_config, jp_configurable_serverapp):
    with_extension(jp_server_config)

    def configured(*args, **kwargs):
        if kwargs.get("config") is not None:  # a test's own config replaces the fixture's
            with_extension(kwargs["config"])
        return jp_configurable_serverapp(*args, **kwargs)

    return configured


@pytest.fixture(autouse=True)
def extension_loaded(request):
    yield
    from jupyter_server.serverapp import ServerApp

    if ServerApp.initialized() and ServerApp.instance().extension_manager is not None:
        loaded = ServerApp.instance().extension_manager.extension_apps
        assert "jupyter_sidecar_ext" in loaded, sorted(loaded)
"""


def upstream_sdist() -> Path:
    path = os.environ.get(SDIST_VARIABLE)
    if not path:
        pytest.skip(f"{SDIST_VARIABLE} is not set (scripts/test.sh downloads the sdist)")
    sdist = Path(path)
    if not sdist.is_file():
        pytest.skip(f"{SDIST_VARIABLE}={path} does not exist")
    if f"-{jupyter_server.__version__}." not in sdist.name:
        pytest.skip(
            f"{sdist.name} is not the installed jupyter_server {jupyter_server.__version__}"
        )
    return sdist


@pytest.mark.parametrize("suite", ["test_gateway.py", "services/kernels"])
def test_jupyter_servers_tests_pass_with_the_extension_loaded(suite: str, tmp_path: Path) -> None:
    sdist = upstream_sdist()
    with tarfile.open(sdist) as archive:
        members = [m for m in archive.getmembers() if "/tests/" in m.name]
        archive.extractall(tmp_path, members=members, filter="data")
    (tests,) = tmp_path.glob("*/tests")
    (tests.parent / "conftest.py").write_text(CONFTEST)
    package_root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(package_root), str(tests.parent)])}
    # Upstream's filterwarnings=error turns tornado 6.6 deprecations of its own test code
    # into failures that are not the extension's; its `flaky` marker (a rerun plugin) is
    # declared without the plugin: no reruns here.
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    command += ["-o", "filterwarnings=", "-o", "markers=flaky", str(tests / suite)]
    result = subprocess.run(
        command, cwd=tests.parent, env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout
