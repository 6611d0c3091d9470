"""A kernel subshell for the explorer's requests (ipykernel 7, JEP 91).

Drill-down and paged rows need code run next to the user's objects, which `debug_request`
cannot do for anything but a plain name. A subshell is a second shell thread in the kernel:
its requests run while the main shell is busy, and a `silent` execute_request with
`store_history=False` there changes no execution count, no history, publishes no
execute_input, and its reply goes to the socket that asked, not to the clients' websockets.
Each request's busy/idle pair is kept from the clients (KernelChannels.hide_iopub).
README "Variables" lists what it costs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session

from ..channels.control import ControlChannel, ControlError

SUBSHELLS_FEATURE = "kernel subshells"


class SubshellChannel(ControlChannel):
    """Requests on one of the kernel's channels, replies by msg_id, each request's iopub
    kept from the clients: on the shell channel addressed to a subshell, or on control to
    create one (`create_subshell_request` is not among the server's untracked message types,
    so its busy/idle pair would flip the kernel's execution state)."""

    def __init__(
        self,
        kernel_manager: Any,
        log: logging.Logger,
        subshell_id: str | None,
        on_request: Callable[[], None] | None = None,
        hide: Callable[[str], None] | None = None,
    ) -> None:
        """`hide(msg_id)` is told of each request before it is sent."""
        super().__init__(kernel_manager, log, on_request)
        self.channel = "control" if subshell_id is None else "shell"
        self.subshell_id = subshell_id
        self._hide = hide

    def header(self, session: Session, msg_type: str) -> dict[str, Any]:
        header = super().header(session, msg_type)
        if self.subshell_id is not None:
            header["subshell_id"] = self.subshell_id
        if self._hide is not None:
            self._hide(header["msg_id"])
        return header


async def create_subshell(
    kernel_manager: Any,
    log: logging.Logger,
    timeout: float,
    on_request: Callable[[], None] | None = None,
    hide: Callable[[str], None] | None = None,
) -> SubshellChannel:
    """A new subshell of the kernel; ControlError(unavailable) when it cannot have one."""
    info_of = getattr(kernel_manager, "get_connection_info", None)
    local = callable(getattr(kernel_manager, "connect_shell", None))
    if not local or info_of is None or not info_of().get("shell_port"):  # behind a gateway
        raise ControlError("The server has no local shell channel to this kernel.", True)
    control = SubshellChannel(kernel_manager, log, None, on_request, hide)
    try:
        return await _create(control, kernel_manager, log, timeout, on_request, hide)
    finally:
        control.close()


async def _create(
    control: ControlChannel,
    kernel_manager: Any,
    log: logging.Logger,
    timeout: float,
    on_request: Callable[[], None] | None,
    hide: Callable[[str], None] | None,
) -> SubshellChannel:
    info = (await control.request("kernel_info_request", {}, timeout)).get("content") or {}
    features = info.get("supported_features")
    if not isinstance(features, list) or SUBSHELLS_FEATURE not in features:
        raise ControlError(
            "This kernel has no subshells (ipykernel 7 or later has them), so its variables "
            "cannot be explored without running code in the user's shell.",
            unavailable=True,
        )
    reply = (await control.request("create_subshell_request", {}, timeout)).get("content") or {}
    subshell_id = reply.get("subshell_id")
    if reply.get("status") != "ok" or not isinstance(subshell_id, str):
        raise ControlError(f"The kernel did not create a subshell: {reply.get('evalue', reply)}")
    log.debug("explorer subshell %s created", subshell_id)
    return SubshellChannel(kernel_manager, log, subshell_id, on_request, hide)
