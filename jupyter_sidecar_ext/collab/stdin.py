"""ServerExecutionInput: with jupyter-server-documents, `input()` in a cell the server runs
asks the user, as in a cell a page runs.

jupyter-server-documents runs a page's cells through its notebook room's own kernel client,
with `allow_stdin=False` (its YNotebookRoom._run_item calls
`client._async_execute_interactive(source, output_hook=..., allow_stdin=False)`): ipykernel
then fails every `input()` at once, and no page could answer anyway. The room makes that
client from its kernel manager's `client_factory`; this puts a subclass there (for every
kernel manager the server creates) whose `_async_execute_interactive`, called so, allows
stdin and hands each input_request to the kernel's sidecar instead of reading a terminal.
The request is then kept on the cell's record like any page's (pages show the input box,
`POST .../kernels/{id}/input` answers it through the sidecar's own stdin channel: ipykernel
takes the reply from any peer), and the room's call simply goes on waiting for the output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._managers import KernelManagerAdapter
from ..protocol.message import KernelMessage
from ..record.shadow import ShadowCell
from ..registry import SidecarRegistry
from ..sidecar import KernelSidecar

# Input requests received before the sidecar recorded their execution (iopub and stdin are
# read by different clients), per kernel, applied with the next recorded changes (bounded).
_MAX_WAITING = 16

InputHook = Callable[[str | None, dict[str, Any]], None]


class ServerExecutionInput(KernelManagerAdapter):
    """Lets cells that jupyter-server-documents runs read input through the sidecar."""

    def __init__(self, registry: SidecarRegistry, kernel_manager: Any, **kwargs: Any):
        """`kernel_manager` is the server's MultiKernelManager."""
        super().__init__(kernel_manager, **kwargs)
        self._registry = registry
        self._classes: dict[type, type] = {}  # client class -> its forwarding subclass
        self._waiting: dict[str, list[KernelMessage]] = {}

    def install(self) -> bool:
        """Take the kernel manager factory's place (kernels running already get the client
        class too), and apply input requests that came early."""
        if not super().install():
            return False
        for kernel_id in list(self._manager.list_kernel_ids()):
            self.adapt(self._manager.get_kernel(kernel_id))
        self._registry.add_cells_listener(self._on_cells)
        return True

    def adapt(self, kernel_manager: Any) -> None:
        """Make the kernel manager's clients forward input requests (see the module)."""
        base = getattr(kernel_manager, "client_factory", None)
        if not isinstance(base, type) or getattr(base, "_sidecar_forwards_input", False):
            return
        forwarding = self._classes.get(base)
        if forwarding is None:
            forwarding = forwarding_client(base, self.on_input_request)
            self._classes[base] = forwarding
        try:
            kernel_manager.client_factory = forwarding
        except Exception:  # a manager whose factory is not a plain trait: left as it is
            self.log.debug("cannot forward input of %r", kernel_manager, exc_info=True)

    def on_input_request(self, kernel_id: str | None, msg: dict[str, Any]) -> None:
        """The kernel asked the room's client for input: kept on its execution's record."""
        sidecar = None if kernel_id is None else self._registry.get(kernel_id)
        if sidecar is None or msg.get("msg_type", msg.get("header", {}).get("msg_type")) != (
            "input_request"
        ):
            return
        request = KernelMessage.from_dict(msg)
        if not self._apply(sidecar, request):
            waiting = self._waiting.setdefault(sidecar.kernel_id, [])
            waiting.append(request)
            del waiting[:-_MAX_WAITING]

    def _on_cells(self, sidecar: KernelSidecar, cells: list[ShadowCell]) -> None:
        waiting = self._waiting.pop(sidecar.kernel_id, None)
        if waiting:
            still = [request for request in waiting if not self._apply(sidecar, request)]
            if still:
                self._waiting[sidecar.kernel_id] = still

    @staticmethod
    def _apply(sidecar: KernelSidecar, request: KernelMessage) -> bool:
        """Hand the request to the sidecar once its execution is recorded."""
        parent = request.parent_msg_id
        if parent is None or sidecar.notebook.by_msg_id(parent) is None:
            return False
        sidecar.on_input_request(request)
        return True


def forwarding_client(base: type[Any], on_input: InputHook) -> type:
    """A subclass of the kernel client class `base` whose interactive executions that allow
    no stdin (and read none themselves) allow it, and hand input requests to `on_input`
    (with the kernel id of the client's manager)."""

    async def _async_execute_interactive(self: Any, *args: Any, **kwargs: Any) -> Any:
        if (
            kwargs.get("allow_stdin") is False
            and kwargs.get("stdin_hook") is None
            and self.stdin_channel.is_alive()
        ):
            kernel_id = getattr(self.parent, "kernel_id", None)

            def stdin_hook(msg: dict[str, Any]) -> None:
                on_input(kernel_id, msg)

            kwargs["allow_stdin"] = True
            kwargs["stdin_hook"] = stdin_hook
        return await base._async_execute_interactive(self, *args, **kwargs)

    return type(
        f"SidecarInput{base.__name__}",
        (base,),
        {
            "_async_execute_interactive": _async_execute_interactive,
            "_sidecar_forwards_input": True,
            "__doc__": f"{base.__name__} whose server-side runs can read input (collab/stdin.py).",
            "__module__": __name__,
        },
    )
