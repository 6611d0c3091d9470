"""What the tap's websocket connection classes share."""

from __future__ import annotations

# The web app setting under which the app puts its SidecarRegistry for the connections.
SIDECAR_SETTING = "jupyter_sidecar_ext_registry"
