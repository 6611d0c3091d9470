"""Real-time collaboration (jupyter-collaboration): the server writes into shared notebook
documents what the pages that went away would have."""

from __future__ import annotations

from .writer import YDOC_SETTING, SharedDocumentWriter

__all__ = ["YDOC_SETTING", "SharedDocumentWriter"]
