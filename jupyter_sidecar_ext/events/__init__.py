"""Event schemas this extension emits on jupyter_server's event bus, and the server's it
listens to."""

from __future__ import annotations

from pathlib import Path

SCHEMA_DIR = Path(__file__).parent
CELL_CHANGED_SCHEMA = "https://events.jupyter.org/jupyter_sidecar_ext/cell_changed/v1"
VARIABLES_UPDATED_SCHEMA = "https://events.jupyter.org/jupyter_sidecar_ext/variables_updated/v1"
EXECUTION_FINISHED_SCHEMA = "https://events.jupyter.org/jupyter_sidecar_ext/execution_finished/v1"
# The server's own, which the registry and the variables service follow.
KERNEL_ACTIONS_SCHEMA = "https://events.jupyter.org/jupyter_server/kernel_actions/v1"

SCHEMA_FILES = [
    SCHEMA_DIR / "cell_changed.yaml",
    SCHEMA_DIR / "variables_updated.yaml",
    SCHEMA_DIR / "execution_finished.yaml",
]
