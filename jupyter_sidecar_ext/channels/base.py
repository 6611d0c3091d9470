"""The seam between a kernel's sidecar and its transport: local ZMQ or a gateway's websocket.

A sidecar records and executes through one `KernelChannels`, made by the factory the app
hands to the registry (channels/zmq/ for local kernels, channels/gateway/ for kernels behind
a gateway). What the transport sees happen goes back through the sidecar's `ChannelEvents`.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from jupyter_client.session import Session

from ..protocol.message import KernelMessage
from .control import ControlChannel

ReplyCallback = Callable[[KernelMessage], None]


class ShellChannel(ABC):
    """The sidecar's own shell channel: execute_replies to what is sent on it go to the
    reply callback it was made with."""

    @property
    @abstractmethod
    def session(self) -> Session:
        """Builds the messages given to `send`."""

    @abstractmethod
    def send(self, msg: dict[str, Any]) -> None:
        """Send a message built with `session.msg` (its header, and msg_id, are kept)."""

    @abstractmethod
    def send_parts(self, parts: Sequence[bytes]) -> None:
        """Send an already serialized message [header, parent, metadata, content, *buffers]."""

    @abstractmethod
    def send_stdin(self, msg: dict[str, Any]) -> None:
        """Send an input_reply (built with `session.msg`) on the kernel's stdin channel.
        ipykernel takes the reply from any peer, so it answers any client's input_request."""

    @abstractmethod
    def close(self) -> None:
        """The kernel restarted or went away."""


class ChannelEvents(ABC):
    """What a kernel's channels tell its sidecar."""

    @abstractmethod
    def on_iopub(self, msg: KernelMessage) -> None:
        """An iopub message from the kernel."""

    @abstractmethod
    def on_shell_reply(self, msg: KernelMessage) -> None:
        """An execute_reply to a request sent on the sidecar's own shell channel."""

    @abstractmethod
    def on_input_request(self, msg: KernelMessage) -> None:
        """The kernel asked for input (stdin input_request) to a request sent on the
        sidecar's own shell channel."""

    @abstractmethod
    def note_kernel_message(self) -> None:
        """The kernel sent a message on another channel than iopub (it has a number too)."""

    @abstractmethod
    def on_disconnected(self) -> list[str]:
        """The link to the kernel dropped: mark what may lose messages; their msg_ids."""

    @abstractmethod
    def on_caught_up(self, msg_ids: Iterable[str]) -> None:
        """These requests ended while the link was down (their idle was lost)."""

    @abstractmethod
    def on_restarted(self) -> None:
        """The kernel was restarted by someone else than this server (a gateway)."""

    @abstractmethod
    def on_gone(self) -> None:
        """The kernel no longer exists (a gateway does not know it any more)."""


class KernelChannels(ABC):
    """How one sidecar talks to its kernel: iopub in, its own shell and control out."""

    def __init__(
        self, kernel_id: str, kernel_manager: Any, events: ChannelEvents, log: logging.Logger
    ) -> None:
        self.kernel_id = kernel_id
        self.kernel_manager = kernel_manager
        self.events = events
        self.log = log
        self._receiving = asyncio.Event()
        self._started: asyncio.Task[None] | None = None

    @property
    def receiving(self) -> bool:
        """Whether iopub is known to arrive from the current kernel process."""
        return self._receiving.is_set()

    async def until_receiving(self) -> None:
        await self._receiving.wait()

    def start(self, timeout: float) -> asyncio.Task[None]:
        """Connect once; the task ends when iopub arrives, or after `timeout` with a warning
        (readers must never wait forever)."""
        if self._started is None:
            self._started = asyncio.ensure_future(self._start(timeout))
        return self._started

    async def _start(self, timeout: float) -> None:
        try:
            await self._connect(timeout)
        finally:
            self._receiving.set()

    def close(self) -> None:
        """The kernel is gone or the server stops: stop receiving, release waiters."""
        if self._started is not None and not self._started.done():
            self._started.cancel()
        self._receiving.set()

    @property
    @abstractmethod
    def connected(self) -> bool:
        """Whether the link to the kernel is up now."""

    @abstractmethod
    async def _connect(self, timeout: float) -> None:
        """Open the channels and return once iopub arrives (or `timeout` passed)."""

    @abstractmethod
    def follow_restart(self) -> None:
        """The kernel restarted through this server: receive from its new process."""

    @abstractmethod
    def hide_iopub(self, msg_id: str) -> None:
        """Keep the iopub messages answering `msg_id` (a request of the server's own, e.g.
        on a kernel subshell) from clients and the recorder, where the transport can."""

    @abstractmethod
    def iopub_stream(self) -> Any | None:
        """A ZMQStream-like iopub stream for a client's websocket, fed by this one
        subscription; None where clients are served otherwise (a gateway relays them)."""

    @abstractmethod
    def shell(self) -> ShellChannel:
        """The sidecar's own shell channel (one per kernel)."""

    @abstractmethod
    def control(self) -> ControlChannel:
        """A control channel for the variables service's requests."""

    @abstractmethod
    async def wait_closed(self) -> None:
        """Wait for background work to end (after `close`)."""


ChannelsFactory = Callable[[str, Any, ChannelEvents, logging.Logger], KernelChannels]
