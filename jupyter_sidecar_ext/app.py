"""SidecarApp: the server extension. Owns the registry of kernel sidecars and its routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

from jupyter_server.extension.application import ExtensionApp
from jupyter_server.services.contents.fileio import FileManagerMixin
from traitlets import Bool, Float, Int, List, Type, Unicode

from .channels.base import KernelChannels
from .events import SCHEMA_FILES
from .handlers import Services, make_handlers
from .lint.service import LintEngine, LintService
from .record.store import CellStore, StoreLimits
from .registry import RecorderLimits, SidecarRegistry
from .tap import SIDECAR_SETTING, tapped
from .tuning.activity import ActivityTracker
from .tuning.kernel_launch import KernelLaunch
from .tuning.memory_release import MemoryReleaser
from .variables.inspect import VariableFilter
from .variables.service import VariablesConfig, VariablesService

STORE_FILE = "outputs.sqlite"


class SidecarApp(ExtensionApp):
    """Records every kernel's executions server-side and serves them over REST and events."""

    name = "jupyter_sidecar_ext"
    load_other_extensions = True

    local_channels_class = Type(
        default_value="jupyter_sidecar_ext.channels.zmq.ZmqChannels",
        klass=KernelChannels,
        config=True,
        help="How sidecars talk to kernels this server runs itself (ZMQ sockets).",
    )
    remote_channels_class = Type(
        default_value="jupyter_sidecar_ext.channels.gateway.GatewayChannels",
        klass=KernelChannels,
        config=True,
        help="How sidecars talk to kernels run by a gateway (--gateway-url): one websocket "
        "per kernel to the gateway.",
    )

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

    release_memory = Bool(
        True,
        config=True,
        help="Give the memory freed after a burst of output back to the OS when kernels shut "
        "down, or when an execution finishes after the server grew by 64 MiB (glibc's "
        "malloc_trim(0), in a worker thread, once a moment after the last such event). "
        "Without it the server stays at the burst's peak RSS: glibc keeps freed memory. "
        "Nothing happens without glibc.",
    )

    track_activity = Bool(
        True,
        config=True,
        help="Keep the server's kernel activity markers (last_activity, execution_state, "
        "used by the culler and the kernels API) from the sidecar's iopub subscription, "
        "instead of a second subscription per kernel that decodes every message again.",
    )

    kernel_iopub_hwm = Int(
        100_000,
        allow_none=True,
        config=True,
        help="Send high-water mark of the iopub socket of ipykernel kernels this server "
        "starts (`-m ipykernel_launcher`). ZMQ's default, 1000 messages, drops output "
        "silently when the kernel's own I/O thread falls behind, as it does with many busy "
        "kernels on few cores. 0: no limit. None: start kernels exactly as their spec says.",
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

    variables_enabled = Bool(
        True,
        config=True,
        help="Keep a variable snapshot per kernel, refreshed after each user execution "
        "through the kernel's control channel (debug_request inspectVariables): nothing "
        "runs in the user's shell.",
    )
    variables_timeout = Float(
        5.0,
        config=True,
        help="Seconds a kernel has to list its variables or render one; past it the previous "
        "snapshot is kept, marked stale.",
    )
    variables_debounce = Float(
        0.02,
        config=True,
        help="Seconds of quiet after an execution before refreshing, so a burst of cells "
        "costs one refresh (never postponed more than a second).",
    )
    variables_backoff = Float(
        30.0,
        config=True,
        help="Seconds automatic refreshes pause after a slow one (doubling, up to 10 min), "
        "so an object with a slow __repr__ does not hold the kernel's control thread after "
        "every cell.",
    )
    variables_max_count = Int(
        500, config=True, help="Variables kept per snapshot; the others are only counted."
    )
    variables_max_value_chars = Int(
        200, config=True, help="Characters of each variable's value preview."
    )
    variables_max_rich_bytes = Int(
        2_000_000,
        config=True,
        help="Bytes of a variable's rich view; past it only its text/plain head is served.",
    )
    variables_show_private = Bool(
        False, config=True, help="List names starting with an underscore."
    )
    variables_hidden_types = List(
        Unicode(),
        ["module", "function", "builtin_function_or_method", "method", "type"],
        config=True,
        help="Type names not listed. (Functions and classes defined in the kernel are grouped "
        "away by the kernel's debugger already.)",
    )

    lint_enabled = Bool(
        True, config=True, help="Serve POST /api/sidecar/lint (isort + black for notebook cells)."
    )
    lint_workers = Int(
        0,
        config=True,
        help="Worker processes that format cells (black and isort are CPU-bound and never run "
        "on the server's event loop); 0 means min(2, CPU count).",
    )
    lint_prewarm = Bool(
        False,
        config=True,
        help="Start the lint workers when the server starts, so the first lint is not slowed "
        "by their start-up (about a second: they import black and isort). Otherwise they "
        "start on the first lint request; a request with no cells starts them without "
        "waiting (what a client does when it loads).",
    )
    lint_worker_nice = Int(
        5,
        config=True,
        help="Niceness added to lint workers, so formatting yields the CPU to the server and "
        "to kernels. 0 leaves their priority alone.",
    )
    lint_timeout = Float(
        120.0,
        config=True,
        help="Seconds one lint request may take; cells not done by then get an error and the "
        "workers are restarted.",
    )
    lint_max_request_bytes = Int(
        8 * 1024 * 1024, config=True, help="Largest lint request body, in bytes (413 beyond)."
    )
    lint_max_cells = Int(10_000, config=True, help="Most cells in one lint request (400 beyond).")
    lint_cache_entries = Int(
        20_000, config=True, help="Formatted cells remembered, by (settings, source)."
    )
    lint_cache_chars = Int(
        64 * 1024 * 1024,
        config=True,
        help="Characters of formatted source the lint cache may hold.",
    )
    lint_verify = Bool(
        True,
        config=True,
        help="Check that black's output parses to the same AST as its input before using it "
        "(black's safety check, without its second formatting pass).",
    )

    def _make_lint(self) -> LintService | None:
        if not self.lint_enabled:
            return None
        assert self.serverapp is not None
        contents_manager = self.serverapp.contents_manager
        # Config files are read only under a file-backed contents manager's root.
        on_disk = isinstance(contents_manager, FileManagerMixin)
        root = contents_manager.root_dir if on_disk else None
        engine = LintEngine(
            workers=self.lint_workers,
            cache_entries=self.lint_cache_entries,
            cache_chars=self.lint_cache_chars,
            timeout=self.lint_timeout,
            worker_nice=self.lint_worker_nice,
            log=self.log,
        )
        return LintService.for_root(
            root,
            engine,
            max_request_bytes=self.lint_max_request_bytes,
            max_cells=self.lint_max_cells,
            verify=self.lint_verify,
            log=self.log,
        )

    def _make_variables(self, event_logger: Any) -> VariablesService | None:
        if not self.variables_enabled:
            return None
        config = VariablesConfig(
            filter=VariableFilter(
                show_private=self.variables_show_private,
                hidden_types=frozenset(self.variables_hidden_types),
                max_count=self.variables_max_count,
                max_value_chars=self.variables_max_value_chars,
            ),
            timeout=self.variables_timeout,
            debounce=self.variables_debounce,
            backoff=self.variables_backoff,
            max_rich_bytes=self.variables_max_rich_bytes,
        )
        assert self.serverapp is not None
        service = VariablesService(
            self.registry, self.serverapp.kernel_manager, event_logger, config, self.log
        )
        service.listen()
        return service

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
        self.memory_release = MemoryReleaser.for_this_process(self.log, self.release_memory)
        self.registry = SidecarRegistry(
            kernel_manager=serverapp.kernel_manager,
            event_logger=event_logger,
            limits=RecorderLimits(
                max_output_bytes=self.max_output_bytes,
                max_cells=self.max_cells,
                max_retired_kernels=self.max_retired_kernels,
                start_timeout=self.start_timeout,
                flush_interval=self.event_flush_interval,
                execution_queue=self.execution_queue,
            ),
            log=self.log,
            channels=self._channels_class(),
            resolve_path=self._session_path,
            store=self._make_store(serverapp.data_dir),
            on_retired=self.memory_release.request,
        )
        self.settings[SIDECAR_SETTING] = self.registry
        if self.memory_release.trim is not None:
            self.registry.add_execution_listener(self.memory_release.after_execution)
        self.activity = ActivityTracker(serverapp.kernel_manager, self.registry, self.log)
        if self.track_activity:
            self.activity.install()
        self.kernel_launch = KernelLaunch(
            serverapp.kernel_manager, self.kernel_iopub_hwm or 0, self.log
        )
        if self.kernel_iopub_hwm is not None:
            self.kernel_launch.install()
        self._use_connection_class(serverapp.kernel_websocket_connection_class)
        self.variables = self._make_variables(event_logger)
        self.lint = self._make_lint()
        self.registry.listen()

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
            "jupyter_sidecar_ext: keeping the configured kernel websocket connection class "
            "%s; outputs are recorded from iopub only (no cell ids, no TCP_NODELAY, one more "
            "iopub subscriber per connection)",
            configured.__name__,
        )

    def initialize_handlers(self) -> None:
        services = Services(
            registry=self.registry,
            variables=self.variables,
            lint=self.lint,
            execution_queue=self.execution_queue,
        )
        self.handlers.extend(make_handlers(services))

    async def _start_jupyter_server_extension(self, serverapp: Any) -> None:
        await self.registry.adopt_running_kernels()
        if self.lint is not None:
            self.lint.start(prewarm=self.lint_prewarm)

    async def stop_extension(self) -> None:
        self.activity.uninstall()
        self.kernel_launch.uninstall()
        if self.lint is not None:
            await self.lint.engine.shutdown()
        if self.variables is not None:
            await self.variables.stop()
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
