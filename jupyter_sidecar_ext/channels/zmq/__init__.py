"""Channels to local kernels, over the kernel manager's ZMQ sockets."""
