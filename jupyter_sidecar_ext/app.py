"""SidecarApp: the server extension. Owns the registry of kernel sidecars and its routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection
from traitlets import Bool, Float, Int, Unicode

from .connection import SIDECAR_SETTING, SidecarKernelConnection
from .events import SCHEMA_FILES
from .handlers import Services, make_handlers
from .registry import RecorderLimits, SidecarRegistry
from .store import CellStore, StoreLimits

STORE_FILE = "outputs.sqlite"


class SidecarApp(ExtensionApp):
    """Records every kernel's executions server-side and serves them over REST and events."""

    name = "jupyter_sidecar_ext"
    load_other_extensions = True

    max_output_bytes = Int(
        4_000_000,
        config=True,
        help="Output kept per cell, in bytes. Past it the head and the tail are kept and "
        "the drop is stated in the output.",
    )
    max_cells = Int(
        1000,
        config=True,
        help="Cells kept per kernel; the oldest finished cells are evicted first.",
    )
    max_retired_kernels = Int(
        50,
        config=True,
        help="Shut-down kernels whose recorded notebook stays readable over REST.",
    )
    start_timeout = Float(
        60.0,
        config=True,
        help="Seconds to wait for a new kernel's iopub subscription to receive traffic.",
    )
    event_flush_interval = Float(
        0.05,
        config=True,
        help="Seconds over which cell changes are batched into one event per cell.",
    )

    store_enabled = Bool(
        True,
        config=True,
        help="Persist recorded cells in SQLite so they survive a server restart.",
    )
    store_path = Unicode(
        "",
        config=True,
        help="The SQLite file; empty means jupyter_sidecar_ext/outputs.sqlite in the "
        "server's data directory.",
    )
    store_interval = Float(
        1.0,
        config=True,
        help="Seconds over which changed cells are batched into one write.",
    )
    store_max_kernels = Int(200, config=True, help="Kernels kept in the store, newest first.")
    store_max_bytes = Int(
        512 * 1024 * 1024,
        config=True,
        help="Bytes of recorded cells kept in the store; the oldest kernels go first.",
    )
    store_retention_days = Float(
        30.0, config=True, help="Days a kernel's recorded cells are kept after its last change."
    )

    def _make_store(self, data_dir: str) -> CellStore | None:
        if not self.store_enabled:
            return None
        path = Path(self.store_path) if self.store_path else Path(data_dir) / self.name / STORE_FILE
        limits = StoreLimits(
            max_kernels=self.store_max_kernels,
            max_bytes=self.store_max_bytes,
            retention_seconds=self.store_retention_days * 86400,
        )
        return CellStore(path, limits, self.log, interval=self.store_interval)

    def initialize_settings(self) -> None:
        serverapp = self.serverapp
        assert serverapp is not None, "initialize_settings runs after linking to a server"
        event_logger = getattr(serverapp, "event_logger", None)
        if event_logger is not None:
            for schema in SCHEMA_FILES:
                event_logger.register_event_schema(schema)
        self.registry = SidecarRegistry(
            kernel_manager=serverapp.kernel_manager,
            event_logger=event_logger,
            limits=RecorderLimits(
                max_output_bytes=self.max_output_bytes,
                max_cells=self.max_cells,
                max_retired_kernels=self.max_retired_kernels,
                start_timeout=self.start_timeout,
                flush_interval=self.event_flush_interval,
            ),
            log=self.log,
            resolve_path=self._session_path,
            store=self._make_store(serverapp.data_dir),
        )
        self.settings[SIDECAR_SETTING] = self.registry
        self._use_connection_class(serverapp.kernel_websocket_connection_class)
        self.registry.listen()

    def _use_connection_class(self, configured: type) -> None:
        """Serve kernel websockets through SidecarKernelConnection.

        jupyter_server reads only `jpserver_extensions` from `jupyter_server_config.d`, so
        installed config cannot set the connection class; the extension puts it into the
        web app's settings (read per websocket) instead, unless the user configured a class
        of their own, which is kept."""
        if issubclass(configured, SidecarKernelConnection):
            return
        if configured is ZMQChannelsWebsocketConnection:
            self.settings["kernel_websocket_connection_class"] = SidecarKernelConnection
            return
        self.log.warning(
            "jupyter_sidecar_ext: keeping the configured kernel websocket connection class "
            "%s; outputs are recorded from iopub only (no cell ids, no TCP_NODELAY, one more "
            "iopub subscriber per connection)",
            configured.__name__,
        )

    def initialize_handlers(self) -> None:
        self.handlers.extend(make_handlers(Services(registry=self.registry)))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await self.registry.adopt_running_kernels()

    async def stop_extension(self) -> None:
        await self.registry.stop()

    async def _session_path(self, kernel_id: str) -> str | None:
        session_manager = getattr(self.serverapp, "session_manager", None)
        if session_manager is None:
            return None
        for session in await session_manager.list_sessions():
            if session.get("kernel", {}).get("id") == kernel_id:
                path = session.get("path")
                return path if isinstance(path, str) else None
        return None
