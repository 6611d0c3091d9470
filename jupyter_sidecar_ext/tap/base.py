"""What the tap's two websocket connection classes (local.py, gateway.py) share: reaching the
kernel's sidecar through the web app's settings, where the app puts its registry. They log
through the server's own logger, so their lines name the extension themselves."""

from __future__ import annotations

from typing import Any

# The web app setting under which the app puts its SidecarRegistry for the connections.
SIDECAR_SETTING = "jupyter_sidecar_ext_registry"


class SidecarTap:
    """Mixed into a server connection class (it has `websocket_handler` and `kernel_id`)."""

    websocket_handler: Any
    kernel_id: str
    session: Any
    # (sidecar, client session) this websocket is counted open on (sidecar.py `_clients`)
    _counted: tuple[Any, str] | None = None

    @property
    def _sidecar(self) -> Any:
        """The kernel's live sidecar, or None (the extension off, or the kernel gone)."""
        registry = self.websocket_handler.settings.get(SIDECAR_SETTING)
        return None if registry is None else registry.get(self.kernel_id)

    async def _ensure_sidecar(self) -> None:
        """The kernel's sidecar must be receiving before this client can send anything (the
        server prepares a connection before it accepts the websocket)."""
        registry = self.websocket_handler.settings.get(SIDECAR_SETTING)
        if registry is not None:
            await registry.ensure(self.kernel_id)

    def _count_open(self) -> None:
        """Count this websocket as one of its client session's open ones (once)."""
        sidecar = self._sidecar
        if sidecar is not None and self._counted is None:
            self._counted = (sidecar, self.session.session)
            sidecar.client_opened(self.session.session)

    def _count_closed(self) -> None:
        """This websocket closed: uncount it (once)."""
        if self._counted is not None:
            sidecar, client = self._counted
            self._counted = None
            sidecar.client_closed(client)
