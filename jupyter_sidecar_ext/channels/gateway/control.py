"""The variables service's control channel to a gateway kernel: over the kernel's recorder
websocket (channel "control") instead of a local ZMQ socket, which gateway kernels lack.

Requests and replies keep the ZMQ channel's contract (ControlChannel): the reply's raw parts,
decoded on demand. The gateway signs what it forwards to the kernel and checks what comes
back, so the parts arrive without a signature and are decoded as plain JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from ...protocol.message import MESSAGE_KEYS
from ..control import INLINE_DECODE_BYTES, ControlChannel, ControlError
from .recorder import GatewayRecorder


def _decode(parts: list[bytes]) -> dict[str, Any]:
    return {key: json.loads(part) for key, part in zip(MESSAGE_KEYS, parts, strict=False)}


class RemoteControlChannel(ControlChannel):
    """ControlChannel over a GatewayRecorder's websocket."""

    def __init__(self, recorder: GatewayRecorder, kernel_manager: Any, log: logging.Logger):
        super().__init__(kernel_manager, log)
        self._recorder = recorder
        self._sent: set[asyncio.Future[list[bytes]]] = set()

    def send(self, msg_type: str, content: dict[str, Any]) -> asyncio.Future[list[bytes]]:
        msg = self._recorder.session.msg(msg_type, content)
        try:
            future = self._recorder.request("control", msg)
        except ConnectionError:
            raise ControlError("The gateway connection is down; trying again later.") from None
        self._sent.add(future)
        future.add_done_callback(self._sent.discard)
        return future

    async def decode(self, parts: list[bytes]) -> dict[str, Any]:
        if sum(len(part) for part in parts) <= INLINE_DECODE_BYTES:
            return _decode(parts)
        return await asyncio.to_thread(_decode, parts)

    def close(self) -> None:
        """Give up on what is still waiting (the recorder's connection stays)."""
        for future in list(self._sent):
            if not future.done():
                future.set_exception(ConnectionError("control channel closed"))
        self._sent.clear()
