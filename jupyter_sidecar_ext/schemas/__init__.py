"""Pydantic models at the extension's boundaries: the REST API's bodies and answers (api),
its OpenAPI document (openapi), and nbformat v4 notebooks (notebook, for the export).

Nothing on the kernel-message hot path imports this package.
"""

from __future__ import annotations

from .notebook import (
    Cell,
    CodeCell,
    DisplayDataOutput,
    ErrorOutput,
    ExecuteResultOutput,
    MarkdownCell,
    Notebook,
    Output,
    RawCell,
    StreamOutput,
    UnrecognizedCell,
    UnrecognizedOutput,
    join_multiline,
    notebook_from_dict,
    output_from_iopub,
)

__all__ = [
    "Cell",
    "CodeCell",
    "DisplayDataOutput",
    "ErrorOutput",
    "ExecuteResultOutput",
    "MarkdownCell",
    "Notebook",
    "Output",
    "RawCell",
    "StreamOutput",
    "UnrecognizedCell",
    "UnrecognizedOutput",
    "join_multiline",
    "notebook_from_dict",
    "output_from_iopub",
]
