"""Channels to local kernels, over the kernel manager's ZMQ sockets."""

from .channels import ZmqChannels

__all__ = ["ZmqChannels"]
