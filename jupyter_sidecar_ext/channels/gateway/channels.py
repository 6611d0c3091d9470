"""KernelChannels of a kernel run by a gateway: iopub, the own shell channel and control all
over the kernel's one recorder websocket (recorder.py).

Clients' websockets are accepted without waiting for the recorder (tap/gateway.py): while
the recorder's link is not live, iopub is recorded from what the clients' relays see, each
message once, and cells left unfinished when the last relay closes meanwhile are marked
`gap` (the recorder's probe finishes those that ended once it is back).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from ...protocol.message import KernelMessage
from ..base import ChannelEvents, KernelChannels, ShellChannel
from ..control import ControlChannel
from .control import RemoteControlChannel
from .recorder import GatewayRecorder
from .shell import RemoteShell

# iopub msg_ids remembered to record each message once while relays and the recorder overlap.
SEEN_LIMIT = 4096


class GatewayChannels(KernelChannels):
    """A gateway kernel's channels (see the module doc)."""

    def __init__(
        self, kernel_id: str, kernel_manager: Any, events: ChannelEvents, log: logging.Logger
    ) -> None:
        super().__init__(kernel_id, kernel_manager, events, log)
        self.recorder = GatewayRecorder(
            kernel_id,
            self._recorded_iopub,
            log,
            mark_unfinished=events.on_disconnected,
            on_caught_up=events.on_caught_up,
            on_restarting=events.on_restarted,
            on_gone=events.on_gone,
            on_reply=self._on_reply,
        )
        self._shell = RemoteShell(self.recorder, events.on_shell_reply, events.on_input_request)
        self._relays = 0  # clients' relays attached (tap/gateway.py)
        self._seen: OrderedDict[str, None] | None = None  # once a relay recorded something
        # a client's relay lost the gateway (tap/gateway.py): new clients check it first
        self.gateway_lost = False

    @property
    def connected(self) -> bool:
        return self.recorder.connected

    @property
    def live(self) -> bool:
        """Whether the recorder receives from the kernel now (else relays record iopub)."""
        return self.recorder.connected and self.recorder.answered

    def relay_attached(self) -> None:
        self._relays += 1

    def relay_detached(self) -> None:
        """A client's relay closed: when it was the last one and the recorder is not live,
        what was still running loses its outputs from here on."""
        self._relays = max(0, self._relays - 1)
        if self._relays == 0 and not self.live and not self.recorder.closed:
            self.recorder.add_suspects(self.events.on_disconnected())

    def relayed_iopub(self, msg: KernelMessage) -> None:
        """An iopub message a client's relay passed on: recorded while the recorder is not."""
        if self.live:
            return
        if self._seen is None:
            self._seen = OrderedDict()
        if self._first_sight(msg):
            self.events.on_iopub(msg)

    def _recorded_iopub(self, msg: KernelMessage) -> None:
        if self._seen is None or self._first_sight(msg):
            self.events.on_iopub(msg)

    def _first_sight(self, msg: KernelMessage) -> bool:
        """Whether this iopub message was not recorded yet (from a relay or the recorder)."""
        seen = self._seen
        msg_id = msg.header.get("msg_id")
        if seen is None or not isinstance(msg_id, str):
            return True
        if msg_id in seen:
            return False
        seen[msg_id] = None
        if len(seen) > SEEN_LIMIT:
            seen.popitem(last=False)
        return True

    async def _connect(self, timeout: float) -> None:
        await self.recorder.start(timeout)  # it nudges on its own connection

    def follow_restart(self) -> None:
        """Nothing to do: the recorder's websocket outlives the kernel process."""

    def iopub_stream(self) -> None:
        """Clients' websockets are relayed to the gateway, each with its own iopub."""
        return None

    def shell(self) -> ShellChannel:
        return self._shell

    def hide_iopub(self, msg_id: str) -> None:
        """Nothing to hide: the server sends no subshell requests to gateway kernels."""

    def control(self) -> ControlChannel:
        return RemoteControlChannel(self.recorder, self.kernel_manager, self.log)

    def close(self) -> None:
        self.recorder.close()
        super().close()

    async def wait_closed(self) -> None:
        await self.recorder.wait_closed()

    def _on_reply(self, channel: str, msg: KernelMessage) -> None:
        self._shell.on_reply(channel, msg)
