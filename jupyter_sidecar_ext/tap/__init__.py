"""Clients' kernel websockets, tapped: the server's connection classes (local and gateway),
telling the sidecar about every execute_request and reply without delaying kernel->client
traffic."""

from __future__ import annotations

from jupyter_server.gateway.connections import GatewayWebSocketConnection
from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from .base import SIDECAR_SETTING
from .gateway import SidecarGatewayConnection
from .local import SidecarKernelConnection

__all__ = ["SIDECAR_SETTING", "SidecarGatewayConnection", "SidecarKernelConnection", "tapped"]


def tapped(configured: type) -> type | None:
    """The tapped class that serves what the server would serve through `configured` (itself
    when it is tapped already); None for a class of the user's own, which is then kept."""
    if issubclass(configured, (SidecarKernelConnection, SidecarGatewayConnection)):
        return configured
    if configured is ZMQChannelsWebsocketConnection:
        return SidecarKernelConnection
    if configured is GatewayWebSocketConnection:
        return SidecarGatewayConnection
    return None
