"""A kernel subshell for the explorer's requests (ipykernel 7, JEP 91).

Drill-down and paged rows need code run next to the user's objects, which `debug_request`
cannot do for anything but a plain name. A subshell is a second shell thread in the kernel:
its requests run while the main shell is busy, and a `silent` execute_request with
`store_history=False` there changes no execution count, no history, publishes no
execute_input, and its reply goes to the socket that asked, not to the clients' websockets.
README "Variables" lists what it costs (a busy/idle pair per request, a thread per kernel).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from jupyter_client.session import Session

from ..channels.control import ControlChannel, ControlError

SUBSHELLS_FEATURE = "kernel subshells"


class SubshellChannel(ControlChannel):
    """Requests on the kernel's shell channel addressed to one subshell, replies by msg_id."""

    channel = "shell"

    def __init__(
        self,
        kernel_manager: Any,
        log: logging.Logger,
        subshell_id: str,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(kernel_manager, log, on_request)
        self.subshell_id = subshell_id

    def header(self, session: Session, msg_type: str) -> dict[str, Any]:
        header = super().header(session, msg_type)
        header["subshell_id"] = self.subshell_id
        return header


async def create_subshell(
    control: ControlChannel,
    kernel_manager: Any,
    log: logging.Logger,
    timeout: float,
    on_request: Callable[[], None] | None = None,
) -> SubshellChannel:
    """A new subshell of the kernel; ControlError(unavailable) when it cannot have one."""
    if not callable(getattr(kernel_manager, "connect_shell", None)):
        raise ControlError("The server has no local shell channel to this kernel.", True)
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
    return SubshellChannel(kernel_manager, log, subshell_id, on_request)
