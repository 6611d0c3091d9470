"""Each service reads its own settings (`c.CellStore.*`, `c.LintService.*`, ...) through the
app it is built by, logs through the app's logger, and the old SidecarApp names still work
(forwarded, with a warning) until 0.2.0."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError
from traitlets.config import Config

from jupyter_sidecar_ext.app import SidecarApp
from jupyter_sidecar_ext.pytest_plugin import SERVER_CONFIG
from jupyter_sidecar_ext.record.store import CellStore, KernelRecord


class RecordingStore(CellStore):
    """A store class a deployment swapped in (SidecarApp.store_class); it keeps what it was
    handed and its writes, so a test can wait for them."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.saved: set[str] = set()
        self.writes: list[asyncio.Future[None]] = []

    def save(self, kernel: KernelRecord, cells: dict[str, Callable[[], dict[str, Any]]]) -> None:
        super().save(kernel, cells)
        self.saved.update(cells)

    def flush(self) -> asyncio.Future[None] | None:
        future = super().flush()
        if future is not None:
            self.writes.append(future)
        return future


def sidecar_app(serverapp: Any) -> SidecarApp:
    app: SidecarApp = next(iter(serverapp.extension_manager.extension_apps["jupyter_sidecar_ext"]))
    return app


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "elsewhere" / "cells.sqlite"


@pytest.fixture
def jp_server_config(request: pytest.FixtureRequest, store_path: Path) -> Config:
    """Every service configured under its own name; a test's param replaces all that."""
    config = Config(copy.deepcopy(SERVER_CONFIG))
    if hasattr(request, "param"):
        config.merge(Config(request.param))
        return config
    config.SidecarApp.store_class = f"{__name__}.RecordingStore"
    config.CellStore.path = str(store_path)
    config.CellStore.max_kernels = 7
    config.CellStore.interval = 0.05
    config.LintService.workers = 1
    config.LintService.max_cells = 2
    config.VariablesService.timeout = 2.5
    config.VariablesService.max_count = 3
    config.VariablesService.hidden_types = ["int"]
    config.MemoryReleaser.enabled = False
    config.ActivityTracker.enabled = False
    config.KernelLaunch.iopub_hwm = 1234
    return config


def test_services_are_built_with_the_app_as_parent(jp_serverapp: Any) -> None:
    app = sidecar_app(jp_serverapp)
    services = [app.store, app.lint, app.variables, app.memory_release, app.activity]
    services.append(app.kernel_launch)
    for service in services:
        assert service is not None
        assert service.parent is app
        assert service.log is app.log
    assert app.log.name == f"{jp_serverapp.log.name}.jupyter_sidecar_ext"


async def test_the_store_uses_its_class_and_settings(
    jp_serverapp: Any,
    store_path: Path,
    sc_start_kernel: Any,
    sc_connect: Any,
    sc_cell_finished: Any,
    sc_wait_until: Any,
) -> None:
    store = sidecar_app(jp_serverapp).store
    assert isinstance(store, RecordingStore)
    assert (store.file, store.max_kernels, store.interval) == (store_path, 7, 0.05)
    kernel_id = await sc_start_kernel()
    client = await sc_connect(kernel_id, "v1")
    await client.collect(await client.execute("print('kept')", cell_id="c1"))
    await sc_cell_finished(kernel_id, "c1")
    await sc_wait_until(lambda: "c1" in store.saved, what="the cell handed to the store")
    store.flush()
    await asyncio.gather(*store.writes)
    notebook = await store.notebook(kernel_id)
    assert notebook is not None and [c["id"] for c in notebook["cells"]] == ["c1"]
    assert store_path.exists()


async def test_the_lint_service_uses_its_settings(jp_serverapp: Any, jp_fetch: Any) -> None:
    lint = sidecar_app(jp_serverapp).lint
    assert lint is not None and lint.engine.workers == 1
    body = json.dumps({"cells": [{"id": str(i), "source": "x=1"} for i in range(3)]})
    with pytest.raises(HTTPClientError) as raised:
        await jp_fetch("api", "sidecar", "lint", method="POST", body=body)
    assert raised.value.code == 400  # LintService.max_cells = 2


def test_the_variables_service_uses_its_settings(jp_serverapp: Any) -> None:
    variables = sidecar_app(jp_serverapp).variables
    assert variables is not None and variables.timeout == 2.5
    assert variables.filter.max_count == 3
    assert variables.filter.hidden_types == frozenset({"int"})


async def test_tuning_parts_use_their_settings(jp_serverapp: Any, sc_start_kernel: Any) -> None:
    app = sidecar_app(jp_serverapp)
    assert app.memory_release.trim is None  # MemoryReleaser.enabled = False
    manager = jp_serverapp.kernel_manager
    assert "start_watching_activity" not in vars(manager)  # ActivityTracker.enabled = False
    kernel_id = await sc_start_kernel()
    launched = manager.get_kernel(kernel_id).format_kernel_cmd()
    assert launched[1] == "-c" and "socket.sndhwm = 1234" in launched[2]


OLD_NAMES = {
    "SidecarApp": {
        "store_interval": 0.25,
        "lint_timeout": 7.0,
        "lint_workers": 3,
        "variables_hidden_types": ["str"],
        "kernel_iopub_hwm": None,
        "track_activity": False,
    },
    "LintService": {"workers": 1},  # set under both names: the new one wins
}


@pytest.mark.parametrize("jp_server_config", [OLD_NAMES], indirect=True)
def test_old_names_are_forwarded(jp_serverapp: Any) -> None:
    app = sidecar_app(jp_serverapp)
    assert app.store is not None and app.store.interval == 0.25
    assert app.lint is not None and app.lint.timeout == 7.0 and app.lint.workers == 1
    assert app.variables is not None and app.variables.hidden_types == ["str"]
    assert app.kernel_launch.iopub_hwm is None
    assert not app.activity.enabled
    assert "start_watching_activity" not in vars(jp_serverapp.kernel_manager)


def test_an_old_name_warns_once_and_names_the_new_one(caplog: pytest.LogCaptureFixture) -> None:
    app = SidecarApp()
    with caplog.at_level(logging.WARNING, logger=app.log.name):
        app.parse_command_line(["--SidecarApp.store_interval=0.5", "--SidecarApp.lint_workers=3"])
        app.update_config(Config({"LintService": {"workers": 1}}))
    assert app.config.CellStore.interval == 0.5
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "SidecarApp.store_interval is deprecated and removed in 0.2.0: use CellStore.interval",
        "SidecarApp.lint_workers is deprecated and removed in 0.2.0: use LintService.workers",
    ]


def test_a_new_name_set_first_wins_over_an_old_one(caplog: pytest.LogCaptureFixture) -> None:
    app = SidecarApp(config=Config({"LintService": {"workers": 1}}))
    with caplog.at_level(logging.WARNING, logger=app.log.name):
        app.parse_command_line(["--SidecarApp.lint_workers=3"])
    assert app.config.LintService.workers == 1
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "Ignoring the deprecated SidecarApp.lint_workers: LintService.workers is set"
    ]
