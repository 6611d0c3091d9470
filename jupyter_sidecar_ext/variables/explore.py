"""Drill-down into a variable's children and paged rows of a table, asked of the kernel on
demand through a subshell (subshell.py), never on the refresh path.

Each request is one silent execute_request with empty code and a single `user_expressions`
entry that calls in_kernel.py's `run` (its source travels with the request and is kept by the
kernel as a module in `sys.modules`, not in the user's namespace). The kernel bounds each
child's `__repr__` and the whole request in time; the server bounds the wait for the reply.
A subshell that stopped answering (its thread held by user code) is replaced, a few times.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from traitlets import Float, Int
from traitlets.config import LoggingConfigurable

from ..channels.control import ControlError
from .inspect import units
from .subshell import SubshellChannel, create_subshell

_SOURCE = (Path(__file__).parent / "in_kernel.py").read_text(encoding="utf-8")
_MODULE = "_jupyter_sidecar_explore_" + hashlib.sha256(_SOURCE.encode()).hexdigest()[:12]
MISSING = '{"missing": true}'
# Replies at most this big are parsed on the event loop.
INLINE_PARSE_CHARS = 64 * 1024
# Subshells given up on (held by user code past the timeout) before the kernel is refused.
MAX_WEDGED = 3


class ExploreError(Exception):
    """A request that cannot be served: the HTTP status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class _KernelSubshell:
    run: int
    channel: SubshellChannel | None = None
    wedged: int = 0
    helper: bool = False  # the kernel holds the helper module (sent once)
    unavailable: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def expression(request: dict[str, Any], with_source: bool = True) -> str:
    """The user expression that answers `request` in the kernel. With the source, it defines
    the helper module first if the kernel process has none; without (a 21 KB literal less to
    send and compile per request), a kernel without it answers `{"missing": true}`."""
    if not with_source:
        return (
            f"(lambda m: {MISSING!r} if m is None else m.run({json.dumps(request)!r}))"
            f"(__import__('sys').modules.get({_MODULE!r}))"
        )
    boot = (
        "(lambda sys, types, name, source, request: (sys.modules.get(name) or "
        "sys.modules.setdefault(name, (lambda module: (exec(compile(source, name, 'exec'), "
        "module.__dict__), module)[1])(types.ModuleType(name)))).run(request))"
    )
    arguments = ", ".join(
        ("__import__('sys')", "__import__('types')", repr(_MODULE), repr(_SOURCE))
    )
    return f"{boot}({arguments}, {json.dumps(request)!r})"


def parse_answer(result: Any) -> dict[str, Any]:
    """A `user_expressions` result as the helper's answer; ExploreError for its errors."""
    if not isinstance(result, dict):
        raise ExploreError(500, "The kernel gave no answer.")
    if result.get("status") != "ok":
        raise ExploreError(500, f"The kernel failed: {result.get('ename')}: {result.get('evalue')}")
    text = (result.get("data") or {}).get("text/plain")
    try:
        answer = json.loads(ast.literal_eval(str(text)))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        raise ExploreError(500, "The kernel's answer could not be read.") from None
    if not isinstance(answer, dict):
        raise ExploreError(500, "The kernel's answer could not be read.")
    error = answer.get("error")
    if isinstance(error, dict):
        raise ExploreError(int(error.get("status", 500)), str(error.get("message")))
    return answer


class VariablesExplorer(LoggingConfigurable):
    """Children and rows of the kernel's variables (`c.VariablesExplorer.*`)."""

    timeout = Float(
        3.0,
        config=True,
        help="Seconds the kernel has to answer one drill-down or rows request; past it the "
        "request fails with 504 (each child's or cell's formatting is bounded separately).",
    )
    repr_timeout = Float(
        0.5,
        config=True,
        help="Seconds one child's value (or one cell) may take to format; past it that child "
        "shows an error and the others are still shown.",
    )
    max_limit = Int(500, config=True, help="Most children or rows served per request.")
    max_chars = Int(200, config=True, help="Characters of each child's value or cell's text.")
    max_sort_rows = Int(
        2_000_000,
        config=True,
        help="Tables with more rows are not sorted (409): each sorted page sorts the column "
        "in the kernel again (about 0.1 s per million numbers).",
    )

    def __init__(self, kernel_manager: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._kernel_manager = kernel_manager
        self._subshells: dict[str, _KernelSubshell] = {}

    async def children(
        self, kv: Any, name: str, path: list[Any], offset: int, limit: int
    ) -> dict[str, Any]:
        """One page of the children of `name` at `path` (keys, indices, attribute names)."""
        request = {"op": "children", "name": name, "path": path, "offset": offset}
        answer = await self._ask(kv, request | {"limit": limit})
        for child in answer.get("children", []):
            described = units(str(child.get("type")), child.get("shape"), child.get("size"))
            child["shape_text"], child["size_text"] = (
                described["shape_text"],
                described["size_text"],
            )
        return {"path": path, "offset": offset, "limit": limit, **answer}

    async def rows(
        self,
        kv: Any,
        name: str,
        offset: int,
        limit: int,
        sort: str | None,
        ascending: bool,
    ) -> dict[str, Any]:
        """One page of a DataFrame's, Series' or 1-D/2-D array's rows, cells as text."""
        request = {"op": "rows", "name": name, "offset": offset, "limit": limit, "sort": sort}
        request |= {"ascending": ascending, "max_sort_rows": self.max_sort_rows}
        answer = await self._ask(kv, request)
        return {"offset": offset, "limit": limit, "sort": sort, "ascending": ascending, **answer}

    async def _ask(self, kv: Any, request: dict[str, Any]) -> dict[str, Any]:
        request |= {
            "timeout": self.timeout,
            "repr_timeout": self.repr_timeout,
            "max_chars": self.max_chars,
        }
        state = self._state(kv)
        answer = await self._send(kv, state, expression(request, with_source=state.helper))
        if answer.get("missing") is True:  # a new kernel process, or a first request
            answer = await self._send(kv, state, expression(request))
        state.helper = True
        return answer

    async def _send(self, kv: Any, state: _KernelSubshell, user_expression: str) -> dict[str, Any]:
        content = {
            "code": "",
            "silent": True,
            "store_history": False,
            "user_expressions": {"answer": user_expression},
            "allow_stdin": False,
            "stop_on_error": False,
        }
        channel = await self._channel(kv, state)
        try:
            reply = await channel.request("execute_request", content, self.timeout + 2.0)
        except ControlError as error:
            if state.channel is channel:  # held by user code: the next request gets another
                state.channel, state.wedged = None, state.wedged + 1
                channel.close()
            raise ExploreError(504, error.reason) from None
        result = ((reply.get("content") or {}).get("user_expressions") or {}).get("answer")
        text = str(((result or {}).get("data") or {}).get("text/plain", ""))
        if len(text) <= INLINE_PARSE_CHARS:
            return parse_answer(result)
        return await asyncio.to_thread(parse_answer, result)

    def _state(self, kv: Any) -> _KernelSubshell:
        kernel_id = kv.sidecar.kernel_id
        state = self._subshells.get(kernel_id)
        if state is None or state.run != kv.run:  # a new kernel process: a new subshell
            self.forget(kernel_id)
            state = self._subshells[kernel_id] = _KernelSubshell(run=kv.run)
        return state

    async def _channel(self, kv: Any, state: _KernelSubshell) -> SubshellChannel:
        async with state.lock:
            if state.unavailable is not None:
                raise ExploreError(503, state.unavailable)
            if state.channel is not None:
                return state.channel
            if state.wedged >= MAX_WEDGED:
                raise ExploreError(
                    503,
                    f"{state.wedged} subshells of this kernel stopped answering (held by slow "
                    "code); exploring resumes after a restart.",
                )
            kernel_id = kv.sidecar.kernel_id
            km = (
                self._kernel_manager.get_kernel(kernel_id)
                if kernel_id in self._kernel_manager
                else None
            )
            try:
                state.channel = await create_subshell(
                    km,
                    self._logger(),
                    self.timeout,
                    kv.sidecar.note_kernel_message,
                    kv.sidecar.channels.hide_iopub,
                )
            except ControlError as error:
                if error.unavailable:
                    state.unavailable = error.reason
                raise ExploreError(503, error.reason) from None
            return state.channel

    def _logger(self) -> logging.Logger:
        log: logging.Logger = self.log
        return log

    def forget(self, kernel_id: str) -> None:
        """The kernel went away or restarted: close its subshell's socket."""
        state = self._subshells.pop(kernel_id, None)
        if state is not None and state.channel is not None:
            state.channel.close()
