"""SidecarApp: the server extension. Owns the registry of kernel sidecars and its routes."""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Any, cast

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.services.contents.fileio import FileManagerMixin
from traitlets import Bool, Type, default

from .channels.base import KernelChannels
from .collab import (
    ROOMS_SETTING,
    YDOC_SETTING,
    ServerExecutionCellIds,
    ServerExecutionInput,
    SharedDocumentWriter,
)
from .dataflow.service import DataflowService
from .events import SCHEMA_FILES
from .handlers import Services, make_handlers
from .legacy_settings import LegacySettings
from .lint.service import LintService
from .record.store import CellStore
from .registry import SidecarRegistry
from .tap import SIDECAR_SETTING, tapped
from .tuning.activity import ActivityTracker
from .tuning.kernel_launch import KernelLaunch
from .tuning.memory_release import MemoryReleaser
from .variables.service import VariablesService

STORE_FILE = "outputs.sqlite"


class SidecarApp(LegacySettings, ExtensionApp):
    """Records every kernel's executions server-side and serves them over REST and events.

    The app holds the feature switches and the recorder's limits; each service has its own
    settings (`c.CellStore.*`, `c.LintService.*`, ...) and is built with `parent=self`, so
    it gets the app's config and logger."""

    name = "jupyter_sidecar_ext"
    load_other_extensions = True
    classes = [
        *ExtensionApp.classes,
        SharedDocumentWriter,
        CellStore,
        SidecarRegistry,
        VariablesService,
        LintService,
        DataflowService,
        MemoryReleaser,
        ActivityTracker,
        KernelLaunch,
    ]

    local_channels_class = Type(
        default_value="jupyter_sidecar_ext.channels.zmq.channels.ZmqChannels",
        klass=KernelChannels,
        config=True,
        help="How sidecars talk to kernels this server runs itself (ZMQ sockets).",
    )
    remote_channels_class = Type(
        default_value="jupyter_sidecar_ext.channels.gateway.channels.GatewayChannels",
        klass=KernelChannels,
        config=True,
        help="How sidecars talk to kernels run by a gateway (--gateway-url): one websocket "
        "per kernel to the gateway.",
    )

    execution_queue = Bool(
        True,
        config=True,
        help="Hold execute_requests from kernel websockets on the server and send them to "
        "the kernel one at a time, in order (what a kernel does anyway), so a waiting one can "
        "be taken out (DELETE .../queue/{msg_id}) without interrupting the kernel. Off: "
        "requests go straight to the kernel, as in a plain server.",
    )

    store_enabled = Bool(
        True,
        config=True,
        help="Persist recorded cells in SQLite so they survive a server restart "
        "(settings: CellStore).",
    )
    variables_enabled = Bool(
        True,
        config=True,
        help="Keep a variable snapshot per kernel, refreshed after each user execution "
        "through the kernel's control channel (debug_request inspectVariables): nothing "
        "runs in the user's shell (settings: VariablesService).",
    )
    lint_enabled = Bool(
        True,
        config=True,
        help="Serve POST /api/sidecar/lint (formatting with isort + black or ruff, ruff's "
        "diagnostics; settings: "
        "LintService).",
    )
    dataflow_enabled = Bool(
        True,
        config=True,
        help="Derive what each execution defines and uses, mark recorded cells stale when "
        "a name they used changed since, and serve plans (GET .../dataflow, POST .../plan, "
        ".../run; settings: DataflowService).",
    )

    store_class = Type(
        CellStore, klass=CellStore, config=True, help="The output store's class (a CellStore)."
    )
    variables_service_class = Type(
        VariablesService,
        klass=VariablesService,
        config=True,
        help="The variables service's class (a VariablesService).",
    )
    lint_service_class = Type(
        LintService,
        klass=LintService,
        config=True,
        help="The lint service's class (a LintService).",
    )

    @default("log")
    def _log_default(self) -> logging.Logger:
        """A child of the server's logger named after the extension: its lines go through
        the server's handlers, format and level (`[W ... ServerApp.jupyter_sidecar_ext]`),
        and the services built with `parent=self` log through it."""
        serverapp = self.serverapp if self.trait_has_value("serverapp") else None
        server_log = getattr(serverapp, "log", None)
        parent = server_log if isinstance(server_log, logging.Logger) else None
        return (parent or logging.getLogger("ServerApp")).getChild(self.name)

    def _make_lint(self) -> LintService | None:
        if not self.lint_enabled:
            return None
        assert self.serverapp is not None
        contents_manager = self.serverapp.contents_manager
        # Config files are read only under a file-backed contents manager's root.
        on_disk = isinstance(contents_manager, FileManagerMixin)
        root = contents_manager.root_dir if on_disk else None
        return self.lint_service_class(root, parent=self)

    def _make_variables(self, event_logger: Any) -> VariablesService | None:
        if not self.variables_enabled:
            return None
        assert self.serverapp is not None
        service = self.variables_service_class(
            self.registry, self.serverapp.kernel_manager, event_logger, parent=self
        )
        service.listen()
        return service

    def _make_dataflow(self) -> DataflowService | None:
        if not self.dataflow_enabled:
            return None
        service = DataflowService(self.registry, parent=self)
        service.listen()
        if self.variables is not None:
            self.variables.add_snapshot_listener(service.on_snapshot)
        return service

    def _make_store(self, data_dir: str) -> CellStore | None:
        if not self.store_enabled:
            return None
        store = self.store_class(parent=self)
        if not store.path:
            store.path = str(Path(data_dir) / self.name / STORE_FILE)
        return store

    def initialize_settings(self) -> None:
        serverapp = self.serverapp
        assert serverapp is not None, "initialize_settings runs after linking to a server"
        event_logger = getattr(serverapp, "event_logger", None)
        if event_logger is not None:
            for schema in SCHEMA_FILES:
                event_logger.register_event_schema(schema)
        self.memory_release = MemoryReleaser.for_this_process(parent=self)
        self.store = self._make_store(serverapp.data_dir)
        self.registry = SidecarRegistry(
            serverapp.kernel_manager,
            event_logger,
            self._channels_class(),
            execution_queue=self.execution_queue,
            resolve_path=self._session_path,
            store=self.store,
            on_retired=self.memory_release.request,
            parent=self,
        )
        self.settings[SIDECAR_SETTING] = self.registry
        if self.memory_release.trim is not None:
            self.registry.add_execution_listener(self.memory_release.after_execution)
        self.activity = ActivityTracker(serverapp.kernel_manager, self.registry, parent=self)
        self.activity.install()
        self.kernel_launch = KernelLaunch(serverapp.kernel_manager, parent=self)
        self.kernel_launch.install()
        self._use_connection_class(serverapp.kernel_websocket_connection_class)
        self.variables = self._make_variables(event_logger)
        self.lint = self._make_lint()
        self.dataflow = self._make_dataflow()
        self.registry.listen()
        self.shared_documents = self._make_shared_documents(event_logger)
        self.server_execution_ids = self._make_server_execution_ids()
        self.server_execution_input = self._make_server_execution_input()

    def _make_shared_documents(self, event_logger: Any) -> SharedDocumentWriter | None:
        """With jupyter-collaboration (its server extension loaded and real-time
        collaboration on), the server writes into shared documents what pages that went
        away would have (collab/writer.py)."""
        assert self.serverapp is not None
        ydoc = self.serverapp.web_app.settings.get(YDOC_SETTING)
        if ydoc is None or getattr(ydoc, "disable_rtc", False) or not _has_pycrdt():
            return None
        writer = SharedDocumentWriter(self.registry, ydoc, event_logger, parent=self)
        if not writer.enabled:
            return None
        writer.listen()
        return writer

    def _make_server_execution_ids(self) -> ServerExecutionCellIds | None:
        """With jupyter-server-documents (its rooms run cells through their own kernel
        clients, unseen by the tap), executions are matched with their document cells
        (collab/cell_ids.py)."""
        assert self.serverapp is not None
        settings = self.serverapp.web_app.settings
        ydoc = settings.get(YDOC_SETTING)
        if ydoc is None or settings.get(ROOMS_SETTING) is None or not _has_pycrdt():
            return None
        finder = ServerExecutionCellIds(self.registry, ydoc, parent=self)
        finder.listen()
        return finder

    def _make_server_execution_input(self) -> ServerExecutionInput | None:
        """With jupyter-server-documents (its rooms run cells allowing no stdin), input()
        in those cells asks through the sidecar (collab/stdin.py)."""
        assert self.serverapp is not None
        if self.serverapp.web_app.settings.get(ROOMS_SETTING) is None:
            return None
        adapter = ServerExecutionInput(self.registry, self.serverapp.kernel_manager, parent=self)
        adapter.install()
        return adapter

    def _channels_class(self) -> type[KernelChannels]:
        """Every kernel of a server in gateway mode is remote; every other one is local."""
        assert self.serverapp is not None
        gateway = getattr(self.serverapp, "gateway_config", None)
        remote = bool(getattr(gateway, "gateway_enabled", False))
        return cast(
            "type[KernelChannels]",
            self.remote_channels_class if remote else self.local_channels_class,
        )

    def _use_connection_class(self, configured: type) -> None:
        """Serve kernel websockets through SidecarKernelConnection.

        jupyter_server reads only `jpserver_extensions` from `jupyter_server_config.d`, so
        installed config cannot set the connection class; the extension puts it into the
        web app's settings (read per websocket) instead, unless the user configured a class
        of their own, which is kept. In gateway mode the server's default is its gateway
        relay, replaced by SidecarGatewayConnection (the same relay, with TCP_NODELAY)."""
        serving = tapped(configured)
        if serving is not None:
            if serving is not configured:
                self.settings["kernel_websocket_connection_class"] = serving
            return
        self.log.warning(
            "keeping the configured kernel websocket connection class "
            "%s; outputs are recorded from iopub only (no cell ids, no TCP_NODELAY, one more "
            "iopub subscriber per connection)",
            configured.__name__,
        )

    def initialize_handlers(self) -> None:
        services = Services(
            registry=self.registry,
            variables=self.variables,
            lint=self.lint,
            dataflow=self.dataflow,
            execution_queue=self.execution_queue,
            shared_documents=self.shared_documents is not None,
        )
        self.handlers.extend(make_handlers(services))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await self.registry.adopt_running_kernels()
        if self.lint is not None:
            self.lint.start()

    async def stop_extension(self) -> None:
        self.activity.uninstall()
        self.kernel_launch.uninstall()
        if self.server_execution_input is not None:
            self.server_execution_input.uninstall()
        if self.lint is not None:
            await self.lint.stop()
        if self.variables is not None:
            await self.variables.stop()
        if self.dataflow is not None:
            await self.dataflow.stop()
        if self.shared_documents is not None:
            await self.shared_documents.stop()
        if self.server_execution_ids is not None:
            await self.server_execution_ids.stop()
        await self.registry.stop()
        await self.memory_release.stop()

    async def _session_path(self, kernel_id: str) -> str | None:
        session_manager = getattr(self.serverapp, "session_manager", None)
        if session_manager is None:
            return None
        for session in await session_manager.list_sessions():
            if session.get("kernel", {}).get("id") == kernel_id:
                path = session.get("path")
                return path if isinstance(path, str) else None
        return None


def _has_pycrdt() -> bool:
    return importlib.util.find_spec("pycrdt") is not None
