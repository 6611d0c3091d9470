"""Executions the sidecar runs or holds: the server-side queue, the executor, HTTP execution."""
