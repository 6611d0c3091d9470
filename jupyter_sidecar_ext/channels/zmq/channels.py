"""KernelChannels of a local kernel: one iopub subscription (fanned out to the websockets),
the sidecar's own shell stream, control sockets, all on the kernel manager's ZMQ ports."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ...protocol.message import KernelMessage
from ..base import ChannelEvents, KernelChannels, ShellChannel
from ..control import ControlChannel
from .iopub import FanoutStream, IopubSubscription
from .shell import SidecarShell

NUDGE_INTERVAL = 0.25  # seconds between kernel_info nudges until iopub answers


class ZmqChannels(KernelChannels):
    """A local kernel's channels (see the module doc)."""

    def __init__(
        self, kernel_id: str, kernel_manager: Any, events: ChannelEvents, log: logging.Logger
    ) -> None:
        super().__init__(kernel_id, kernel_manager, events, log)
        self._iopub = IopubSubscription(
            kernel_manager, self._on_iopub, lambda _: events.note_kernel_message()
        )
        self._shell = SidecarShell(
            kernel_manager, events.on_shell_reply, log, on_input=events.on_input_request
        )
        self._nudges: set[str] = set()  # msg_ids of our kernel_info nudges
        self._renudge: asyncio.Future[None] | None = None
        self._timeout = 60.0
        self._closed = False

    @property
    def connected(self) -> bool:
        return not self._closed

    async def _connect(self, timeout: float) -> None:
        self._timeout = timeout
        ready = getattr(self.kernel_manager, "ready", None)
        if ready is not None:
            await (ready if isinstance(ready, asyncio.Future) else asyncio.wrap_future(ready))
        self._iopub.open()
        await self._wait_until_receiving(timeout)

    async def _wait_until_receiving(self, timeout: float) -> None:
        """Nudge the kernel over control until our subscription sees the iopub answer.

        ZMQ subscriptions take a moment to (re)connect and propagate; without this, a fast
        first execution, or the first one after a restart, could be missed. Control
        requests are answered even while the shell is busy. Only a status answering one of
        our own nudges counts, so late messages from a previous kernel process do not.
        """
        km = self.kernel_manager
        control = km.connect_control()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            while not self._receiving.is_set() and loop.time() < deadline and not self._closed:
                sent = km.session.send(control, "kernel_info_request")
                self._nudges.add(sent["header"]["msg_id"])
                try:
                    await asyncio.wait_for(self._receiving.wait(), NUDGE_INTERVAL)
                except asyncio.TimeoutError:
                    continue
        finally:
            control.close(linger=0)
            self._nudges.clear()
        if not self._receiving.is_set() and not self._closed:
            self.log.warning("no iopub traffic from kernel %s", self.kernel_id)
            self._receiving.set()  # nothing to wait for: never hold clients forever

    def _on_iopub(self, msg: KernelMessage) -> None:
        if not self._receiving.is_set() and msg.parent_msg_id in self._nudges:
            self._receiving.set()
        self.events.on_iopub(msg)

    def follow_restart(self) -> None:
        """New ports maybe: reopen the subscription, and hold clients until it receives."""
        self._iopub.open()
        self._receiving.clear()
        if self._renudge is not None:
            self._renudge.cancel()
        self._renudge = asyncio.ensure_future(self._wait_until_receiving(self._timeout))

    def hide_iopub(self, msg_id: str) -> None:
        self._iopub.hide(msg_id)

    def iopub_stream(self) -> FanoutStream:
        return self._iopub.stream()

    def shell(self) -> ShellChannel:
        return self._shell

    def control(self) -> ControlChannel:
        return ControlChannel(
            self.kernel_manager, self.log, on_request=self.events.note_kernel_message
        )

    def close(self) -> None:
        self._closed = True
        self._iopub.close()
        if self._renudge is not None and not self._renudge.done():
            self._renudge.cancel()
        super().close()

    async def wait_closed(self) -> None:
        tasks = [task for task in (self._started, self._renudge) if task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
