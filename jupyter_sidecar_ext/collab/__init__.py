"""Real-time collaboration (jupyter-collaboration, jupyter-server-documents): the server
writes into shared notebook documents what the pages that went away would have, and
matches executions run by the documents' own kernel clients with their cells (and lets
them read input)."""

from __future__ import annotations

from .cell_ids import ROOMS_SETTING, ServerExecutionCellIds
from .stdin import ServerExecutionInput
from .writer import YDOC_SETTING, SharedDocumentWriter

__all__ = [
    "ROOMS_SETTING",
    "YDOC_SETTING",
    "ServerExecutionCellIds",
    "ServerExecutionInput",
    "SharedDocumentWriter",
]
