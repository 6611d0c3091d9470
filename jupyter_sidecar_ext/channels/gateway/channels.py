"""KernelChannels of a kernel run by a gateway: iopub, the own shell channel and control all
over the kernel's one recorder websocket (recorder.py)."""

from __future__ import annotations

import logging
from typing import Any

from ...protocol.message import KernelMessage
from ..base import ChannelEvents, KernelChannels, ShellChannel
from ..control import ControlChannel
from .control import RemoteControlChannel
from .recorder import GatewayRecorder
from .shell import RemoteShell


class GatewayChannels(KernelChannels):
    """A gateway kernel's channels (see the module doc)."""

    def __init__(
        self, kernel_id: str, kernel_manager: Any, events: ChannelEvents, log: logging.Logger
    ) -> None:
        super().__init__(kernel_id, kernel_manager, events, log)
        self.recorder = GatewayRecorder(
            kernel_id,
            events.on_iopub,
            log,
            mark_unfinished=events.on_disconnected,
            on_caught_up=events.on_caught_up,
            on_restarting=events.on_restarted,
            on_gone=events.on_gone,
            on_reply=self._on_reply,
        )
        self._shell = RemoteShell(self.recorder, events.on_shell_reply, events.on_input_request)

    @property
    def connected(self) -> bool:
        return self.recorder.connected

    async def _connect(self, timeout: float) -> None:
        await self.recorder.start(timeout)  # it nudges on its own connection

    def follow_restart(self) -> None:
        """Nothing to do: the recorder's websocket outlives the kernel process."""

    def iopub_stream(self) -> None:
        """Clients' websockets are relayed to the gateway, each with its own iopub."""
        return None

    def shell(self) -> ShellChannel:
        return self._shell

    def control(self) -> ControlChannel:
        return RemoteControlChannel(self.recorder, self.kernel_manager, self.log)

    def close(self) -> None:
        self.recorder.close()
        super().close()

    async def wait_closed(self) -> None:
        await self.recorder.wait_closed()

    def _on_reply(self, channel: str, msg: KernelMessage) -> None:
        self._shell.on_reply(channel, msg)
