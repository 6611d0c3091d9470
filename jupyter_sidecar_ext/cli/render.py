"""Cell outputs as a console shows them: text/plain, streams to their own file, tracebacks.

Used by `execute` (kernel messages as they arrive) and `tail` (nbformat outputs of the shadow
model), so both print the same way. ANSI colours in tracebacks are kept on a terminal and
removed otherwise (a file or a pipe gets plain text).
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO

from ..record.output_area import terminal_text

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _plain(data: Any) -> str:
    """text/plain of a mime bundle, else a placeholder naming its richest type."""
    if not isinstance(data, dict):
        return ""
    text = data.get("text/plain")
    if isinstance(text, list):
        text = "".join(text)
    if isinstance(text, str):
        return text
    kinds = ", ".join(sorted(str(k) for k in data))
    return f"<{kinds}>" if kinds else ""


def _joined(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return str(value) if value is not None else ""


def render(output: dict[str, Any]) -> tuple[str, str]:
    """(file name "stdout"/"stderr", text) of one nbformat output or iopub message content
    (with `output_type` set to the message type). Text ends with a newline unless it is a
    stream chunk."""
    kind = output.get("output_type")
    if kind == "stream":
        name = "stderr" if output.get("name") == "stderr" else "stdout"
        return name, terminal_text(_joined(output.get("text")))
    if kind == "execute_result":
        text = _plain(output.get("data"))
        count = output.get("execution_count")
        prefix = f"Out[{count}]: " if count is not None else ""
        if "\n" in text and prefix:
            prefix += "\n"
        return "stdout", f"{prefix}{text}\n"
    if kind in ("display_data", "update_display_data"):
        text = _plain(output.get("data"))
        return "stdout", f"{text}\n" if text else ""
    if kind == "error":
        traceback = output.get("traceback")
        if isinstance(traceback, list) and traceback:
            text = "\n".join(str(line) for line in traceback)
        else:
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"
        return "stderr", text + "\n"
    return "stdout", ""


class ConsoleWriter:
    """Writes rendered outputs to stdout/stderr, flushing so a pipe sees them at once."""

    def __init__(self, merge: bool = False) -> None:
        """With `merge`, stderr output goes to stdout too (one ordered transcript)."""
        self.stdout = sys.stdout
        self.stderr = sys.stdout if merge else sys.stderr

    def write(self, name: str, text: str) -> None:
        if not text:
            return
        stream = self.stderr if name == "stderr" else self.stdout
        if not _isatty(stream):
            text = strip_ansi(text)
        stream.write(text)
        stream.flush()

    def output(self, output: dict[str, Any]) -> None:
        self.write(*render(output))


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
