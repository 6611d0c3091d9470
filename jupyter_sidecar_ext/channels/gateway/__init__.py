"""Channels to kernels run by a Kernel or Enterprise Gateway (--gateway-url), over one recorder
websocket per kernel. The only place (with tap/) that knows gateway classes."""

from .channels import GatewayChannels

__all__ = ["GatewayChannels"]
