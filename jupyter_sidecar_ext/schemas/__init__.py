"""Pydantic models of Jupyter kernel messages (protocol 5.4) and nbformat v4 notebooks.

Content models for each message type are in :mod:`.message_content`.
"""

from __future__ import annotations

from .messages import (
    MESSAGE_TYPES,
    BaseMessage,
    Header,
    KnownMessage,
    Message,
    PartialHeader,
    UnknownMessage,
    message_adapter,
    parse_message,
    parse_message_lenient,
)
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
    "MESSAGE_TYPES",
    "BaseMessage",
    "Cell",
    "CodeCell",
    "DisplayDataOutput",
    "ErrorOutput",
    "ExecuteResultOutput",
    "Header",
    "KnownMessage",
    "MarkdownCell",
    "Message",
    "Notebook",
    "Output",
    "PartialHeader",
    "RawCell",
    "StreamOutput",
    "UnknownMessage",
    "UnrecognizedCell",
    "UnrecognizedOutput",
    "join_multiline",
    "message_adapter",
    "notebook_from_dict",
    "output_from_iopub",
    "parse_message",
    "parse_message_lenient",
]
