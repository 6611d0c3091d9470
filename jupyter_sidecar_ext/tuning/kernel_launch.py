"""ipykernel kernels started with a deeper iopub send queue, so a busy machine keeps their output.

ipykernel's iopub XPUB socket silently drops messages past ZMQ's default send high-water mark
(1,000 per subscriber) when the kernel's own ZMQ I/O thread falls behind, as it does with many
busy kernels on few cores (README "How it works"; benchmarks/README.md, `load.py`). Kernels this
server starts with the standard launch (`-m ipykernel_launcher` or `-m ipykernel`) run the same
module through a `python -c` bootstrap (standard library and ipykernel only; `runpy`, as `-m`
does) that sets the mark before ipykernel binds the socket. Other commands are left as they
are. The seam is the per-kernel manager's public `format_kernel_cmd`, called at every start and
restart: it is wrapped on each manager the `kernel_manager_factory` builds while the
extension runs, and the factory is put back when it stops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from traitlets import Int
from traitlets.config import LoggingConfigurable

IPYKERNEL_MODULES = frozenset({"ipykernel_launcher", "ipykernel"})

# Runs the kernel's module as `-m` would; `{module}` and `{hwm}` are filled in by `bootstrap`.
_BOOTSTRAP = """\
# jupyter_sidecar_ext: `-m {module}` with a deeper iopub send queue
import runpy
import sys

if sys.path and sys.path[0] == "":
    del sys.path[0]  # as ipykernel_launcher does, before any import from the working dir


def _deeper_iopub():
    import zmq
    from ipykernel.kernelapp import IPKernelApp

    bind = getattr(IPKernelApp, "_bind_socket", None)
    if bind is None:
        return

    def bind_socket(app, socket, port):
        if socket.getsockopt(zmq.TYPE) in (zmq.PUB, zmq.XPUB):
            socket.sndhwm = {hwm}
        return bind(app, socket, port)

    IPKernelApp._bind_socket = bind_socket


_deeper_iopub()
del _deeper_iopub
runpy.run_module("{module}", run_name="__main__", alter_sys=True)
"""


def bootstrap(module: str, hwm: int) -> str:
    """The `python -c` program that runs `module` with iopub's send high-water mark at `hwm`."""
    return _BOOTSTRAP.format(module=module, hwm=int(hwm))


def with_iopub_hwm(cmd: list[str], hwm: int) -> list[str]:
    """`cmd` launching ipykernel through the bootstrap; any other command unchanged."""
    if len(cmd) >= 3 and cmd[1] == "-m" and cmd[2] in IPYKERNEL_MODULES:
        return [cmd[0], "-c", bootstrap(cmd[2], hwm), *cmd[3:]]
    return cmd


class KernelLaunch(LoggingConfigurable):
    """Wraps the kernel manager's factory so new kernel managers launch with a deeper queue
    (`c.KernelLaunch.*`)."""

    iopub_hwm = Int(
        100_000,
        allow_none=True,
        config=True,
        help="Send high-water mark of the iopub socket of ipykernel kernels this server "
        "starts (`-m ipykernel_launcher`). ZMQ's default, 1000 messages, drops output "
        "silently when the kernel's own I/O thread falls behind, as it does with many busy "
        "kernels on few cores; a subscriber that stops reading can then hold up to that many "
        "messages in the kernel's memory. 0: no limit. None: start kernels exactly as their "
        "spec says.",
    )

    def __init__(self, kernel_manager: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._manager = kernel_manager
        self._factory: Callable[..., Any] | None = None

    def install(self) -> None:
        """Take the factory's place (a trait assignment on the manager instance), unless
        `iopub_hwm` is None."""
        factory = getattr(self._manager, "kernel_manager_factory", None)
        if self.iopub_hwm is None or self._factory is not None or not callable(factory):
            return
        self._factory = factory
        self._manager.kernel_manager_factory = self._create

    def uninstall(self) -> None:
        """Give the factory back, unless something else has replaced it meanwhile."""
        if self._factory is None:
            return
        if self._manager.kernel_manager_factory == self._create:
            self._manager.kernel_manager_factory = self._factory
        self._factory = None

    def _create(self, *args: Any, **kwargs: Any) -> Any:
        assert self._factory is not None, "installed"
        kernel_manager = self._factory(*args, **kwargs)
        format_kernel_cmd = getattr(kernel_manager, "format_kernel_cmd", None)
        if callable(format_kernel_cmd):  # managers that launch nothing never call it
            hwm, log = self.iopub_hwm or 0, self.log

            def format_with_hwm(extra_arguments: list[str] | None = None) -> list[str]:
                cmd = format_kernel_cmd(extra_arguments=extra_arguments)
                launched = with_iopub_hwm(cmd, hwm)
                if launched is not cmd:
                    log.debug("ipykernel starts with iopub HWM %d", hwm)
                return launched

            kernel_manager.format_kernel_cmd = format_with_hwm
        return kernel_manager
