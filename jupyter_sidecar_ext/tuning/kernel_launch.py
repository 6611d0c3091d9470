"""ipykernel kernels started with a deeper iopub send queue and below the server's CPU priority.

ipykernel's iopub XPUB socket silently drops messages past ZMQ's default send high-water mark
(1,000 per subscriber) when the kernel's own ZMQ I/O thread falls behind, as it does with many
busy kernels on few cores (README "How it works"; benchmarks/README.md, `load.py`). Kernels this
server starts with the standard launch (`-m ipykernel_launcher` or `-m ipykernel`) run the same
module through a `python -c` bootstrap (standard library and ipykernel only; `runpy`, as `-m`
does) that sets the mark before ipykernel binds the socket and, when asked (`kernel_nice`),
lowers the kernel's CPU priority before it starts a thread, so kernels yield the CPU to the
server. Other commands are left as they are. The seam is the per-kernel manager's public
`format_kernel_cmd`, called at every start and restart: it is wrapped on each manager the
server creates while the extension runs (_managers.py).
"""

from __future__ import annotations

from typing import Any

from traitlets import Int

from .._managers import KernelManagerAdapter

IPYKERNEL_MODULES = frozenset({"ipykernel_launcher", "ipykernel"})

# Runs the kernel's module as `-m` would, after the tuning parts below.
_BOOTSTRAP = """\
# jupyter_sidecar_ext: `-m {module}` {what}
import runpy
import sys

if sys.path and sys.path[0] == "":
    del sys.path[0]  # as ipykernel_launcher does, before any import from the working dir
{tuning}
runpy.run_module("{module}", run_name="__main__", alter_sys=True)
"""

_DEEPER_IOPUB = """
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
"""

# Before any thread starts: Linux keeps a niceness per thread, and new threads inherit it.
_LOWER_PRIORITY = """
def _lower_priority():
    import os

    niceness = os.nice({nice})
    # Linux autogroups: a kernel leads a session of its own (jupyter_client starts it so),
    # hence a scheduling group of its own, which the kernel's niceness does not touch; the
    # group's does, and it is what the server's group is weighed against.
    if os.getsid(0) == os.getpid():
        try:
            with open("/proc/self/autogroup", "w") as group:
                group.write(str(niceness))
        except OSError:
            pass  # no autogroups here (another OS, a kernel built without them)


_lower_priority()
del _lower_priority
"""


def bootstrap(module: str, hwm: int | None, nice: int = 0) -> str:
    """The `python -c` program that runs `module` with iopub's send high-water mark at `hwm`
    (None: ZMQ's default) and `nice` added to its niceness."""
    parts, what = [], []
    if hwm is not None:
        parts.append(_DEEPER_IOPUB.format(hwm=int(hwm)))
        what.append("with a deeper iopub send queue")
    if nice:
        parts.append(_LOWER_PRIORITY.format(nice=int(nice)))
        what.append(f"at niceness +{int(nice)}")
    return _BOOTSTRAP.format(module=module, what=", ".join(what), tuning="\n".join(parts))


def tuned_command(cmd: list[str], hwm: int | None, nice: int = 0) -> list[str]:
    """`cmd` launching ipykernel through the bootstrap; any other command, and any command
    when there is nothing to tune, unchanged."""
    if hwm is None and not nice:
        return cmd
    if len(cmd) >= 3 and cmd[1] == "-m" and cmd[2] in IPYKERNEL_MODULES:
        return [cmd[0], "-c", bootstrap(cmd[2], hwm, nice), *cmd[3:]]
    return cmd


class KernelLaunch(KernelManagerAdapter):
    """New kernel managers launch with a deeper queue and, when asked, a lower CPU priority
    (`c.KernelLaunch.*`)."""

    iopub_hwm = Int(
        100_000,
        allow_none=True,
        config=True,
        help="Send high-water mark of the iopub socket of ipykernel kernels this server "
        "starts (`-m ipykernel_launcher`). ZMQ's default, 1000 messages, drops output "
        "silently when the kernel's own I/O thread falls behind, as it does with many busy "
        "kernels on few cores; a subscriber that stops reading can then hold up to that many "
        "messages in the kernel's memory. 0: no limit. None: ZMQ's default (with "
        "`kernel_nice` 0 too, kernels start exactly as their spec says).",
    )

    kernel_nice = Int(
        0,
        min=0,
        max=19,
        config=True,
        help="Niceness added to ipykernel kernels this server starts (and to their Linux "
        "autogroup: each kernel leads a session of its own), so that busy kernels yield the "
        "CPU to the server, which answers every user, relays every kernel's output and "
        "records it. Only a machine short of CPU notices: a kernel alone runs as fast as "
        "before, and under contention it gets less of the CPU than a program at the default "
        "priority. 0 (default): the server's own priority. Measured at 5 on 2 cores (README "
        "'How it works'): REST answers under 8 flooding kernels got faster, a cell flushing "
        "lines to a client on the same machine slower.",
    )

    def install(self) -> bool:
        """Take the factory's place, unless there is nothing to tune."""
        if self.iopub_hwm is None and not self.kernel_nice:
            return False
        return super().install()

    def adapt(self, kernel_manager: Any) -> None:
        """Wrap the kernel manager's `format_kernel_cmd` (see the module)."""
        format_kernel_cmd = getattr(kernel_manager, "format_kernel_cmd", None)
        if callable(format_kernel_cmd):  # managers that launch nothing never call it
            hwm, nice, log = self.iopub_hwm, self.kernel_nice, self.log

            def format_tuned(extra_arguments: list[str] | None = None) -> list[str]:
                cmd = format_kernel_cmd(extra_arguments=extra_arguments)
                launched = tuned_command(cmd, hwm, nice)
                if launched is not cmd:
                    log.debug("ipykernel starts with iopub HWM %s, niceness +%d", hwm, nice)
                return launched

            kernel_manager.format_kernel_cmd = format_tuned
