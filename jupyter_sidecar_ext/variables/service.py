"""Variable snapshots per kernel, refreshed without running anything in the user's shell.

After a user execution finishes (the iopub idle of a non-silent execute_request), the service
sends `debug_request` `inspectVariables` on the kernel's control channel: ipykernel answers on
its control thread without starting the debugger, so nothing enters the shell queue, the
execution count or history, and the busy/idle pair it publishes is ignored by JupyterLab and
the server (channels/control.py). README "Variables" has the costs and the rejected approaches.
Refreshes are coalesced (one in flight per kernel, a trailing debounce capped at MAX_DEFER) and
time-bounded: past `timeout` the previous snapshot stays, marked stale, and a slow kernel pauses
automatic refreshes with a doubling back-off. A kernel that cannot answer is `unavailable`
until it restarts: never an error loop.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable

from .._tz import isoformat
from ..channels.control import ControlError
from ..events import KERNEL_ACTIONS_SCHEMA, VARIABLES_UPDATED_SCHEMA
from ..registry import SidecarRegistry
from ..sidecar import KernelSidecar
from .explore import ExploreError, VariablesExplorer
from .inspect import (
    ParsedSnapshot,
    VariableFilter,
    changed_names,
    is_listed,
    parse_cost,
    parse_variables,
    rich_view,
    same_snapshot_rows,
)

# A trailing debounce never postpones a refresh by more than this (a long burst of cells).
MAX_DEFER = 1.0
MAX_BACKOFF = 600.0
_NOTHING = {"state": "unavailable", "stale": False, "updated_at": None, "execution_count": None}
_NOTHING |= {"kernel_busy": False, "count": 0, "truncated": False, "rows_version": None}
# Answers estimated to parse within this many microseconds are parsed on the event loop.
INLINE_PARSE_US = 1000.0

#: told (sidecar, count of the previous snapshot, count of the new one, names whose row
#: changed in between) after each snapshot that follows another one of the same kernel run
SnapshotListener = Callable[[KernelSidecar, "int | None", "int | None", frozenset[str]], None]


class VariableError(Exception):
    """A rich-view request that cannot be served: the HTTP status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class KernelVariables:
    """One kernel's snapshot, its freshness and the bookkeeping of its refreshes."""

    def __init__(self, sidecar: KernelSidecar) -> None:
        self.sidecar = sidecar
        self.control = sidecar.channels.control()  # ZMQ, or a gateway's websocket
        self.reset(None)

    def reset(self, execution_count: int | None) -> None:
        """A new kernel process (or the first look at one): nothing known yet."""
        self.run = self.sidecar.notebook.run
        self.state = "pending"
        self.reason: str | None = None
        self.parsed = ParsedSnapshot()
        # new whenever the rows change: a client holding this version's rows skips the GET
        self.rows_version: str | None = None
        self.updated_at: float | None = None
        self.execution_count: int | None = None  # of the last execution the snapshot includes
        self.last_count = execution_count  # of the last user execution seen
        self.capable = False  # answered kernel_info with debugger support
        self.failed = False  # the last refresh did not complete
        self.dropped = 0  # requests in a row the kernel handled without answering
        self.dirty = True
        self.paused_until = 0.0
        self.backoff = 0.0
        self.first_trigger: float | None = None

    def to_dict(self, kernel_busy: bool) -> dict[str, Any]:
        """The API's view of the snapshot (GET .../variables)."""
        return {
            "kernel_id": self.sidecar.kernel_id,
            "state": self.state,
            "reason": self.reason,
            "stale": self.stale,
            "updated_at": None if self.updated_at is None else isoformat(self.updated_at),
            "execution_count": self.execution_count,
            "kernel_busy": kernel_busy,
            "count": self.parsed.total,
            "truncated": self.parsed.truncated,
            "variables": self.parsed.variables,
            "rows_version": self.rows_version,
        }

    @property
    def stale(self) -> bool:
        if self.state != "ok":
            return False
        return self.failed or self.dirty or self.last_count != self.execution_count


class VariablesService(LoggingConfigurable):
    """Keeps a variable snapshot per kernel and serves it from memory (`c.VariablesService.*`)."""

    timeout = Float(
        5.0,
        config=True,
        help="Seconds a kernel has to list its variables or render one; past it the previous "
        "snapshot is kept, marked stale.",
    )
    debounce = Float(
        0.02,
        config=True,
        help="Seconds of quiet after an execution before refreshing, so a burst of cells "
        "costs one refresh (never postponed more than a second).",
    )
    backoff = Float(
        30.0,
        config=True,
        help="Seconds automatic refreshes pause after a slow one (doubling, up to 10 min), "
        "so an object with a slow __repr__ does not hold the kernel's control thread after "
        "every cell.",
    )
    max_count = Int(
        500, config=True, help="Variables kept per snapshot; the others are only counted."
    )
    max_value_chars = Int(200, config=True, help="Characters of each variable's value preview.")
    max_rich_bytes = Int(
        2_000_000,
        config=True,
        help="Bytes of a variable's rich view; past it only its text/plain head is served.",
    )
    show_private = Bool(False, config=True, help="List names starting with an underscore.")
    hidden_types = List(
        Unicode(),
        ["module", "function", "builtin_function_or_method", "method", "type"],
        config=True,
        help="Type names not listed. (Functions and classes defined in the kernel are grouped "
        "away by the kernel's debugger already.)",
    )

    def __init__(
        self, registry: SidecarRegistry, kernel_manager: Any, event_logger: Any, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self._registry = registry
        self._kernel_manager = kernel_manager
        self._event_logger = event_logger
        self._kernels: dict[str, KernelVariables] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._snapshot_listeners: list[SnapshotListener] = []
        self.explorer = VariablesExplorer(kernel_manager, parent=self)

    @property
    def filter(self) -> VariableFilter:
        """What a snapshot keeps, from the current settings."""
        return VariableFilter(
            show_private=self.show_private,
            hidden_types=frozenset(self.hidden_types),
            max_count=self.max_count,
            max_value_chars=self.max_value_chars,
        )

    # -- wiring ------------------------------------------------------------------------------

    def listen(self) -> None:
        """Follow user executions and kernel restarts/shutdowns (call at init)."""
        self._registry.add_execution_listener(self.on_executed)
        if self._event_logger is not None:
            self._event_logger.add_listener(
                schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
            )

    async def stop(self) -> None:
        """Cancel timers and refreshes, close control sockets (server shutdown)."""
        if self._event_logger is not None:
            self._event_logger.remove_listener(
                schema_id=KERNEL_ACTIONS_SCHEMA, listener=self._on_kernel_action
            )
        for kernel_id in list(self._kernels):
            self._forget(kernel_id)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    def on_executed(self, sidecar: KernelSidecar, execution_count: int | None) -> None:
        """A user execution finished on this kernel: refresh soon (coalesced)."""
        kv = self._entry(sidecar)
        if execution_count is not None:
            kv.last_count = execution_count
        kv.dirty = True
        if kv.first_trigger is None:  # bounds the debounce of a long burst (MAX_DEFER)
            kv.first_trigger = asyncio.get_running_loop().time()
        self._schedule(kv)

    async def _on_kernel_action(self, logger: Any, schema_id: str, data: dict[str, Any]) -> None:
        kernel_id = data.get("kernel_id")
        if not isinstance(kernel_id, str) or data.get("status") != "success":
            return
        if data.get("action") == "shutdown":
            self._forget(kernel_id)
        elif data.get("action") == "restart" and kernel_id in self._kernels:
            kv = self._kernels[kernel_id]
            self._cancel(kernel_id)
            kv.reset(0)
            self._schedule(kv, now=True)  # an empty namespace, shown promptly

    # -- reading -----------------------------------------------------------------------------

    def snapshot(self, sidecar: KernelSidecar) -> dict[str, Any]:
        """The cached snapshot, never waiting for the kernel; starts a refresh if none yet."""
        kernel_id = sidecar.kernel_id
        if not sidecar.alive:
            self._forget(kernel_id)
            return self.unavailable(kernel_id, "The kernel is not running.")
        kv = self._entry(sidecar)
        if kv.state == "pending" and kernel_id not in self._running:
            self._schedule(kv, now=True)
        km = (
            self._kernel_manager.get_kernel(kernel_id)
            if kernel_id in self._kernel_manager
            else None
        )
        return kv.to_dict(kernel_busy=getattr(km, "execution_state", None) == "busy")

    @staticmethod
    def unavailable(kernel_id: str, reason: str) -> dict[str, Any]:
        """The answer for a kernel without a snapshot to offer (not running, not recorded)."""
        return {"kernel_id": kernel_id, **_NOTHING, "reason": reason, "variables": []}

    async def rich(self, sidecar: KernelSidecar, name: str) -> dict[str, Any]:
        """One variable's mime bundle (its IPython display), asked of the kernel now."""
        kv, known = await self._vouched(sidecar, name)
        try:
            body = await kv.control.debug(
                "richInspectVariables", {"variableName": name}, self.timeout
            )
        except ControlError as error:
            raise VariableError(503, error.reason) from None
        view = rich_view(body, known, self.max_rich_bytes)
        if view is None:  # ipykernel answers an unknown name with an empty bundle
            raise VariableError(404, f"Variable not found: {name}")
        return {"kernel_id": sidecar.kernel_id, "name": name, **view}

    async def children(
        self, sidecar: KernelSidecar, name: str, path: list[Any], offset: int, limit: int
    ) -> dict[str, Any]:
        """One page of a listed variable's children at `path` (explore.py)."""
        kv, _ = await self._vouched(sidecar, name)
        try:
            page = await self.explorer.children(kv, name, path, offset, limit)
        except ExploreError as error:
            raise VariableError(error.status, error.message) from None
        return {"kernel_id": sidecar.kernel_id, "name": name, **page}

    async def rows(
        self,
        sidecar: KernelSidecar,
        name: str,
        offset: int,
        limit: int,
        sort: str | None = None,
        ascending: bool = True,
    ) -> dict[str, Any]:
        """One page of a listed table's rows (explore.py)."""
        kv, _ = await self._vouched(sidecar, name)
        try:
            page = await self.explorer.rows(kv, name, offset, limit, sort, ascending)
        except ExploreError as error:
            raise VariableError(error.status, error.message) from None
        return {"kernel_id": sidecar.kernel_id, "name": name, **page}

    async def _vouched(
        self, sidecar: KernelSidecar, name: str
    ) -> tuple[KernelVariables, dict[str, Any] | None]:
        """The kernel's entry and the row of `name` if the list would show it; raises
        VariableError otherwise (what on-demand requests may serve)."""
        if not sidecar.alive:
            raise VariableError(503, "The kernel is not running.")
        kv = self._entry(sidecar)
        if kv.state == "unavailable":
            raise VariableError(503, kv.reason or "The kernel cannot inspect variables.")
        unknown = VariableError(404, f"Variable not found: {name}")
        if not name.isidentifier() or (name.startswith("_") and not self.show_private):
            raise unknown
        if kv.failed and sidecar.kernel_id in self._running:
            raise VariableError(503, kv.reason or "The kernel's control channel is busy.")
        known = next((v for v in kv.parsed.variables if v["name"] == name), None)
        try:
            if (known is None or kv.stale) and not await self._listed(kv, name):
                raise unknown
        except ControlError as error:
            raise VariableError(503, error.reason) from None
        return kv, known

    async def _listed(self, kv: KernelVariables, name: str) -> bool:
        """Whether the list would show `name` now: the rich view never serves what the list
        hides (`In`, `_private`, modules...), so a name the snapshot does not vouch for (not
        in it, or the snapshot is stale) is looked up in a fresh listing."""
        body = await kv.control.debug("inspectVariables", {}, self.timeout)
        return is_listed(body.get("variables"), name, self.filter)

    # -- refreshing --------------------------------------------------------------------------

    def _entry(self, sidecar: KernelSidecar) -> KernelVariables:
        kv = self._kernels.get(sidecar.kernel_id)
        if kv is None or kv.sidecar is not sidecar:
            if kv is not None:
                self._forget(sidecar.kernel_id)
            kv = self._kernels[sidecar.kernel_id] = KernelVariables(sidecar)
        elif kv.run != sidecar.notebook.run:  # restarted since the last look
            self._cancel(sidecar.kernel_id)
            kv.reset(0)
            self._schedule(kv, now=True)
        return kv

    def _schedule(self, kv: KernelVariables, now: bool = False) -> None:
        """Start a refresh after the debounce (or when a back-off ends); one at a time."""
        kernel_id = kv.sidecar.kernel_id
        if kv.state == "unavailable" or kernel_id in self._running:
            return  # unavailable: until restart; running: rescheduled when done if dirty
        loop = asyncio.get_running_loop()
        timer = self._timers.pop(kernel_id, None)
        if timer is not None:
            timer.cancel()
        if kv.first_trigger is None:
            kv.first_trigger = loop.time()
        delay = 0.0 if now else self.debounce
        delay = min(delay, max(0.0, kv.first_trigger + MAX_DEFER - loop.time()))
        delay = max(delay, kv.paused_until - loop.time())
        self._timers[kernel_id] = loop.call_later(delay, self._start, kv)

    def _start(self, kv: KernelVariables) -> None:
        kernel_id = kv.sidecar.kernel_id
        self._timers.pop(kernel_id, None)
        if self._kernels.get(kernel_id) is not kv or kernel_id in self._running:
            return
        task = asyncio.ensure_future(self._refresh_once(kv))
        self._running[kernel_id] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(lambda done: self._finished(kv, done))

    def _finished(self, kv: KernelVariables, task: asyncio.Task[None]) -> None:
        kernel_id = kv.sidecar.kernel_id
        if self._running.get(kernel_id) is task:
            del self._running[kernel_id]
        if not task.cancelled() and kv.dirty and self._kernels.get(kernel_id) is kv:
            self._schedule(kv)  # executions finished meanwhile: debounced again, not at once

    async def _refresh_once(self, kv: KernelVariables) -> None:
        if kv.state == "unavailable" or kv.paused_until > asyncio.get_running_loop().time() + 0.01:
            return
        kv.dirty = False
        kv.first_trigger = None  # executions from now on wait for the next refresh
        try:
            await self._refresh(kv)
        except asyncio.CancelledError:
            raise
        except Exception:  # never an error loop: log, keep the snapshot, wait for news
            self.log.exception("variables refresh failed")
            kv.failed = True

    async def _refresh(self, kv: KernelVariables) -> None:
        loop = asyncio.get_running_loop()
        count = kv.last_count
        started = loop.time()
        try:
            if not kv.capable:
                await kv.control.check_debugger(self.timeout)
                kv.capable = True
            body = await kv.control.debug(
                "inspectVariables", {}, self.timeout, on_slow=lambda: self._slow(kv)
            )
            parsed = await self._parse(body.get("variables"))
        except ControlError as error:
            kv.failed = True
            kv.reason = error.reason
            kv.dropped = kv.dropped + 1 if error.dropped else 0
            # a kernel that never answered and dropped the request twice will not answer
            never = kv.updated_at is None and kv.dropped >= 2
            if error.unavailable or never:
                kv.state, kv.parsed, kv.rows_version = "unavailable", ParsedSnapshot(), None
                self.log.info("variables of %s: %s", kv.sidecar.kernel_id, error.reason)
            elif not kv.capable or error.dropped:  # starting, restarting, or a first drop
                self._pause(kv, error.reason, first=self.timeout)
                kv.dirty = True  # try again when the pause ends
            else:
                self._pause(kv, error.reason)
            self._emit(kv)
            return
        elapsed = loop.time() - started
        previous = kv.parsed if kv.state == "ok" else None
        same_rows = previous is not None and same_snapshot_rows(previous, parsed)
        if not same_rows:
            kv.rows_version = uuid.uuid4().hex[:16]
        since = kv.execution_count
        kv.state, kv.parsed, kv.failed, kv.reason, kv.dropped = "ok", parsed, False, None, 0
        kv.updated_at, kv.execution_count = time.time(), count
        if elapsed > self.timeout:
            self._pause(kv, f"Listing variables took {elapsed:.1f} s (a slow __repr__?).")
        else:
            kv.backoff = 0.0
        self._emit(kv)
        if previous is not None and self._snapshot_listeners:
            names = frozenset() if same_rows else changed_names(previous, parsed)
            self._tell(kv.sidecar, since, count, names)

    def add_snapshot_listener(self, listener: SnapshotListener) -> None:
        """Be told which names changed between consecutive snapshots (e.g. dataflow: a
        mutation the code hid still redefines the name)."""
        self._snapshot_listeners.append(listener)

    def _tell(
        self, sidecar: KernelSidecar, since: int | None, count: int | None, names: frozenset[str]
    ) -> None:
        for listener in self._snapshot_listeners:
            try:  # a failing listener must not stop refreshes
                listener(sidecar, since, count, names)
            except Exception:
                self.log.exception("a snapshot listener failed")

    async def _parse(self, records: Any) -> ParsedSnapshot:
        """Parse small answers at once, bigger ones (many previews to scan) in a thread."""
        if parse_cost(records) <= INLINE_PARSE_US:
            return parse_variables(records, self.filter)
        return await asyncio.to_thread(parse_variables, records, self.filter)

    def _slow(self, kv: KernelVariables) -> None:
        """Called once a refresh outlasts the timeout: say so now, keep waiting for it."""
        kv.failed = True
        kv.reason = (
            f"The kernel has not listed its variables within {self.timeout:g} s "
            "(an object with a slow __repr__?); showing the previous snapshot."
        )
        self._emit(kv)

    def _pause(self, kv: KernelVariables, why: str, first: float | None = None) -> None:
        """Back off: a kernel this slow must not have its control thread held after every
        cell (interrupts by message, the debugger and other control requests queue behind)."""
        first = self.backoff if first is None else first
        kv.backoff = min(MAX_BACKOFF, max(first, kv.backoff * 2))
        kv.paused_until = asyncio.get_running_loop().time() + kv.backoff
        kv.reason = f"{why} Automatic refresh paused for {kv.backoff:g} s."

    # -- lifecycle ---------------------------------------------------------------------------

    def _cancel(self, kernel_id: str) -> None:
        timer = self._timers.pop(kernel_id, None)
        if timer is not None:
            timer.cancel()
        task = self._running.pop(kernel_id, None)
        if task is not None:
            task.cancel()

    def _forget(self, kernel_id: str) -> None:
        self._cancel(kernel_id)
        self.explorer.forget(kernel_id)
        kv = self._kernels.pop(kernel_id, None)
        if kv is not None:
            kv.control.close()

    def _emit(self, kv: KernelVariables) -> None:
        if self._event_logger is None:
            return
        self._event_logger.emit(
            schema_id=VARIABLES_UPDATED_SCHEMA,
            data={
                "kernel_id": kv.sidecar.kernel_id,
                "state": kv.state,
                "execution_count": kv.execution_count,
                "count": kv.parsed.total,
                "stale": kv.stale,
                "rows_version": kv.rows_version,
            },
        )
