"""KernelManagerAdapter: the seam for changing every kernel manager the server creates.

jupyter_server's MultiKernelManager builds one kernel manager per kernel through its
public `kernel_manager_factory`. An adapter takes that factory's place while the extension
runs (a trait assignment on the manager instance), adapts each kernel manager the original
factory builds, and puts the factory back when it stops, unless something else replaced it
meanwhile. tuning/kernel_launch.py (how kernels launch) and collab/stdin.py (how the rooms'
clients read input) are the two adapters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traitlets.config import LoggingConfigurable


class KernelManagerAdapter(LoggingConfigurable):
    """Adapts every kernel manager the server's MultiKernelManager creates (`adapt`)."""

    def __init__(self, kernel_manager: Any, **kwargs: Any) -> None:
        """`kernel_manager` is the server's MultiKernelManager."""
        super().__init__(**kwargs)
        self._manager = kernel_manager
        self._factory: Callable[..., Any] | None = None

    def install(self) -> bool:
        """Take the factory's place; False when already installed or there is no factory."""
        factory = getattr(self._manager, "kernel_manager_factory", None)
        if self._factory is not None or not callable(factory):
            return False
        self._factory = factory
        self._manager.kernel_manager_factory = self._create
        return True

    def uninstall(self) -> None:
        """Give the factory back, unless something else has replaced it meanwhile."""
        if self._factory is None:
            return
        if self._manager.kernel_manager_factory == self._create:
            self._manager.kernel_manager_factory = self._factory
        self._factory = None

    def adapt(self, kernel_manager: Any) -> None:
        """Change one kernel manager, just built (the subclass's job)."""
        raise NotImplementedError

    def _create(self, *args: Any, **kwargs: Any) -> Any:
        assert self._factory is not None, "installed"
        kernel_manager = self._factory(*args, **kwargs)
        self.adapt(kernel_manager)
        return kernel_manager
