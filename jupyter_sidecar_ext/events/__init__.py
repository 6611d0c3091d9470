"""Event schemas this extension emits on jupyter_server's event bus."""

from __future__ import annotations

from pathlib import Path

SCHEMA_DIR = Path(__file__).parent
CELL_CHANGED_SCHEMA = "https://events.jupyter.org/jupyter_sidecar_ext/cell_changed/v1"
VARIABLES_UPDATED_SCHEMA = "https://events.jupyter.org/jupyter_sidecar_ext/variables_updated/v1"

SCHEMA_FILES = [SCHEMA_DIR / "cell_changed.yaml", SCHEMA_DIR / "variables_updated.yaml"]
