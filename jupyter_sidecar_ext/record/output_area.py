"""One cell's outputs as JupyterLab 4 shows them, within a memory budget.

:class:`OutputArea` follows ``OutputAreaModel`` (``@jupyterlab/outputarea`` model.ts):
consecutive stream outputs of the same name merge, ``clear(wait=True)`` clears right before
the next added output, display outputs can be replaced in place. :class:`StreamText` is one
stream output as JupyterLab 4.3+ renders it: terminal text with a cursor (``\\r``, ``\\b``).
Memory stays bounded: past its budget each keeps a head, a marker saying what was dropped, and
the latest output, and a write costs O(chunk) amortized, whatever was written before.
"""

from __future__ import annotations

import json
import re
from collections import deque
from typing import Any

__all__ = ["DisplayMap", "OutputArea", "RichOutput", "StreamText", "terminal_text"]

_CONTROL = re.compile(r"[\n\r\b]")
_OVERHEAD = 100  # approximate bytes per output besides its payload
_BLOCK = 8192  # final stream text is stored in blocks of about this many chars


class StreamText:
    """The text of one stream output (``stdout``, ``stderr``), bounded by ``limit`` chars.

    JupyterLab 4.3+ (``Private.processText`` in outputarea's model.ts) treats it as terminal
    text with a cursor that survives across messages of the same stream output: plain
    characters overwrite at the cursor (appending at the end); ``\\r`` moves the cursor to the
    start of the current line (nothing is erased); ``\\n`` appends a newline at the *end* of
    the text and moves the cursor there; ``\\b``, unless the cursor is at the start of a line,
    removes the character before the cursor *and the one under it*, then steps back (a quirk
    of JupyterLab's ``text.slice(0, i - 1) + text.slice(i + 1)``, kept on purpose).

    The cursor never moves back over a newline, so everything up to the last newline is
    final: it is stored as a head (first half of the budget) and a tail (latest text, cut at
    line boundaries), what falls in between is dropped, and only the current line stays
    editable.
    """

    __slots__ = (
        "_cache",
        "_cursor",
        "_dropped_chars",
        "_dropped_lines",
        "_head",
        "_head_len",
        "_head_limit",
        "_head_open",
        "_line",
        "_line_len",
        "_pending",
        "_pending_len",
        "_slack",
        "_tail",
        "_tail_len",
        "_tail_limit",
        "name",
    )

    def __init__(self, name: str, limit: int | None = None) -> None:
        self.name = name
        if limit is None:
            head_limit = tail_limit = 1 << 62
        else:
            limit = max(limit, 4 * _OVERHEAD)
            head_limit = limit // 2
            tail_limit = limit - head_limit - _OVERHEAD
        self._head_limit = head_limit
        self._tail_limit = tail_limit
        self._slack = max(1, tail_limit // 8)
        self._head: list[str] = []
        self._head_len = 0
        self._head_open = True
        self._tail: deque[str] = deque()
        self._tail_len = 0
        # Final text not yet stored in head or tail: small pieces gathered into blocks,
        # so a million one-line messages do not cost a million string objects.
        self._pending: list[str] = []
        self._pending_len = 0
        # The current (last) line: parts appended at the end, one string once edited.
        self._line: list[str] = []
        self._line_len = 0
        self._cursor = 0
        self._dropped_chars = 0
        self._dropped_lines = 0
        self._cache: str | None = None

    @property
    def size(self) -> int:
        """Characters held, plus room for the drop marker and the output's JSON."""
        return self._head_len + self._tail_len + self._pending_len + self._line_len + _OVERHEAD

    @property
    def truncated(self) -> bool:
        return self._dropped_chars > 0

    @property
    def dropped_chars(self) -> int:
        return self._dropped_chars

    @property
    def dropped_lines(self) -> int:
        """Newlines among the dropped characters."""
        return self._dropped_lines

    @property
    def text(self) -> str:
        """The text as shown now, with a marker line where text was dropped."""
        if self._cache is None:
            self._flush()
            parts = list(self._head)
            if self._dropped_chars:
                parts.append(self.marker())
            parts.extend(self._tail)
            parts.extend(self._line)
            self._cache = "".join(parts)
        return self._cache

    def marker(self) -> str:
        lead = "\n" if self._head and not self._head[-1].endswith("\n") else ""
        return (
            f"{lead}[jupyter-sidecar: {self._dropped_chars:,} characters"
            f" ({self._dropped_lines:,} lines) of output dropped]\n"
        )

    def write(self, chunk: str) -> None:
        """Apply one chunk of stream text."""
        if not chunk:
            return
        self._cache = None
        if self._cursor == self._line_len and "\r" not in chunk and "\b" not in chunk:
            self._append(chunk)
        else:
            self._edit(chunk)
        if self._tail_len + self._pending_len + self._line_len > self._tail_limit:
            self._trim()

    def _append(self, chunk: str) -> None:
        # Fast path: cursor at the end, no \r or \b: plain appending.
        line = self._line
        nl = chunk.rfind("\n")
        if nl < 0:
            line.append(chunk)
            self._line_len += len(chunk)
            self._cursor = self._line_len
            if len(line) > 64 and len(line) * 64 > self._line_len:
                line[:] = ["".join(line)]  # amortized: at most ~64 copies per char
            return
        done = chunk if nl == len(chunk) - 1 else chunk[: nl + 1]
        if line:
            line.append(done)
            done = "".join(line)
            line.clear()
        rest = chunk[nl + 1 :]
        if rest:
            line.append(rest)
        self._line_len = self._cursor = len(rest)
        self._commit(done)

    def _edit(self, chunk: str) -> None:
        line = "".join(self._line)
        cursor = self._cursor
        done: list[str] = []
        pos = 0
        for match in _CONTROL.finditer(chunk):
            i = match.start()
            if i > pos:
                if cursor == len(line):
                    line += chunk[pos:i]
                else:
                    line = line[:cursor] + chunk[pos:i] + line[cursor + i - pos :]
                cursor += i - pos
            char = chunk[i]
            if char == "\n":
                done.append(line)
                done.append("\n")
                line = ""
                cursor = 0
            elif char == "\r":
                cursor = 0
            elif cursor > 0:
                line = line[: cursor - 1] + line[cursor + 1 :]
                cursor -= 1
            pos = i + 1
        if pos < len(chunk):
            if cursor == len(line):
                line += chunk[pos:]
            else:
                line = line[:cursor] + chunk[pos:] + line[cursor + len(chunk) - pos :]
            cursor += len(chunk) - pos
        self._line = [line] if line else []
        self._line_len = len(line)
        self._cursor = cursor
        if done:
            self._commit("".join(done))

    def _commit(self, done: str) -> None:
        """Take final text (ending with a newline)."""
        self._pending.append(done)
        self._pending_len += len(done)
        if self._pending_len >= _BLOCK:
            self._flush()

    def _flush(self) -> None:
        """Store pending final text in the head, or else the tail."""
        if not self._pending:
            return
        done = "".join(self._pending)
        self._pending = []
        self._pending_len = 0
        if self._head_open:
            room = self._head_limit - self._head_len
            if len(done) <= room:
                self._head.append(done)
                self._head_len += len(done)
                return
            self._head_open = False
            cut = done.rfind("\n", 0, room) + 1
            if cut:
                self._head.append(done[:cut])
                self._head_len += cut
                done = done[cut:]
        self._tail.append(done)
        self._tail_len += len(done)

    def _trim(self) -> None:
        """Drop the oldest tail text (at a line boundary when one is near)."""
        self._flush()
        if self._tail_len + self._line_len <= self._tail_limit:
            return
        self._head_open = False
        excess = self._tail_len + self._line_len - (self._tail_limit - self._slack)
        tail = self._tail
        while excess > 0 and tail:
            first = tail[0]
            if len(first) <= excess:
                tail.popleft()
                self._drop(first)
                self._tail_len -= len(first)
                excess -= len(first)
                continue
            cut = first.find("\n", excess - 1, excess - 1 + self._slack) + 1 or excess
            self._drop(first[:cut])
            self._tail_len -= cut
            if cut < len(first):
                tail[0] = first[cut:]
            else:
                tail.popleft()
            excess = 0
        if excess > 0:
            # One line longer than the tail budget: keep its end.
            line = "".join(self._line)
            self._drop(line[:excess])
            line = line[excess:]
            self._line = [line] if line else []
            self._line_len = len(line)
            self._cursor = max(0, self._cursor - excess)

    def _drop(self, text: str) -> None:
        self._dropped_chars += len(text)
        self._dropped_lines += text.count("\n")


class RichOutput:
    """A display_data / execute_result / error output, stored as nbformat JSON."""

    __slots__ = ("display_id", "output", "size")

    def __init__(self, output: dict[str, Any], display_id: str | None = None) -> None:
        self.output = output
        self.display_id = display_id  # set only for display_data that can be updated
        self.size = estimate_size(output)


_Entry = StreamText | RichOutput
# display id -> every output showing it, with the area holding it (shared by a notebook)
DisplayMap = dict[str, dict[int, tuple["OutputArea", RichOutput]]]


class OutputArea:
    """Outputs of one execution: JupyterLab's OutputAreaModel, bounded to a budget.

    Past the budget it keeps the first outputs (about half the budget), a marker output
    saying what was dropped, and the latest outputs."""

    __slots__ = (
        "_budget",
        "_cache",
        "_clear_next",
        "_displays",
        "_dropped_bytes",
        "_dropped_outputs",
        "_head",
        "_head_formed",
        "_head_size",
        "_last_stream",
        "_size",
        "_stream_dropped",
        "_tail",
    )

    def __init__(self, max_output_bytes: int, displays: DisplayMap | None = None) -> None:
        self._budget = max(max_output_bytes, 1024)
        self._displays: DisplayMap = {} if displays is None else displays
        self._clear_next = False
        self._head: list[_Entry] = []  # outputs kept before the drop marker
        self._tail: deque[_Entry] = deque()  # latest outputs
        self._head_size = 0
        self._head_formed = False
        self._size = 0
        self._dropped_outputs = 0
        self._dropped_bytes = 0
        self._stream_dropped = False
        self._last_stream: StreamText | None = None  # where the next same-name stream merges
        self._cache: list[dict[str, Any]] | None = None

    @property
    def outputs(self) -> list[dict[str, Any]]:
        """nbformat v4 outputs as shown now (cached until the next change; do not mutate)."""
        if self._cache is None:
            outs = [_output_json(e) for e in self._head]
            if self._dropped_outputs:
                text = (
                    f"[jupyter-sidecar: {self._dropped_outputs:,} outputs"
                    f" ({self._dropped_bytes:,} bytes) dropped]\n"
                )
                outs.append({"output_type": "stream", "name": "stderr", "text": text})
            outs.extend(_output_json(e) for e in self._tail)
            self._cache = outs
        return self._cache

    @property
    def truncated(self) -> bool:
        """Whether the output budget was exceeded and something was dropped."""
        return self._dropped_outputs > 0 or self._stream_dropped

    @property
    def output_size(self) -> int:
        """Approximate bytes held."""
        return self._size

    def clear(self, wait: bool = False) -> None:
        """clear_output: now, or (wait) right before the next output is added."""
        self._last_stream = None
        if wait:
            self._clear_next = True  # like JupyterLab, an immediate clear leaves this set
            return
        self.release_displays()
        self._head = []
        self._tail = deque()
        self._head_size = 0
        self._head_formed = False
        self._size = 0
        self._dropped_outputs = 0
        self._dropped_bytes = 0
        self._stream_dropped = False
        self._cache = None

    def write_stream(self, name: str, text: str) -> None:
        """Add stream text, merged into the last output when it is the same stream."""
        self._before_add()
        stream = self._last_stream
        if stream is not None and stream.name == name:
            before = stream.size
            stream.write(text)
            self._size += stream.size - before
        else:
            stream = StreamText(name, max(self._budget - self._size, self._budget // 2))
            stream.write(text)
            self._tail.append(stream)
            self._size += stream.size
            self._last_stream = stream
        if stream.truncated:
            self._stream_dropped = True
        if self._size > self._budget:
            self._enforce()

    def add(self, entry: RichOutput) -> None:
        """Add a non-stream output (registered under its display id, if any)."""
        self._before_add()
        self._last_stream = None
        if entry.size > self._budget:
            # Too big on its own: keep the head, drop everything after it, and this.
            self._form_head(keep_last=False)
            while self._tail:
                self._drop(self._tail.popleft())
            self._dropped_outputs += 1
            self._dropped_bytes += entry.size
            return
        self._tail.append(entry)
        self._size += entry.size
        if entry.display_id is not None:
            self._displays.setdefault(entry.display_id, {})[id(entry)] = (self, entry)
        if self._size > self._budget:
            self._enforce()

    def replace(self, entry: RichOutput, output: dict[str, Any]) -> None:
        """Show ``output`` in place of ``entry``'s output (update_display_data)."""
        size = estimate_size(output)
        self._size += size - entry.size
        entry.output = output
        entry.size = size
        self._cache = None
        if self._size > self._budget:
            self._enforce()

    def release_displays(self) -> None:
        """Forget this area's outputs in the display id map."""
        for entry in (*self._head, *self._tail):
            if isinstance(entry, RichOutput) and entry.display_id is not None:
                self._unregister(entry)

    def _before_add(self) -> None:
        if self._clear_next:
            self._clear_next = False
            self.clear()
        self._cache = None

    def _form_head(self, keep_last: bool) -> None:
        if self._head_formed:
            return
        self._head_formed = True
        limit = self._budget // 2
        tail = self._tail
        while len(tail) > keep_last and self._head_size + tail[0].size <= limit:
            entry = tail.popleft()
            self._head.append(entry)
            self._head_size += entry.size

    def _enforce(self) -> None:
        """Drop the oldest outputs after the head until the area fits its budget."""
        self._form_head(keep_last=True)
        tail = self._tail
        while self._size > self._budget and len(tail) > 1:
            self._drop(tail.popleft())
        self._cache = None

    def _drop(self, entry: _Entry) -> None:
        self._size -= entry.size
        self._dropped_outputs += 1
        self._dropped_bytes += entry.size
        if isinstance(entry, RichOutput) and entry.display_id is not None:
            self._unregister(entry)

    def _unregister(self, entry: RichOutput) -> None:
        assert entry.display_id is not None
        holders = self._displays.get(entry.display_id)
        if holders is not None:
            holders.pop(id(entry), None)
            if not holders:
                del self._displays[entry.display_id]


def _output_json(entry: _Entry) -> dict[str, Any]:
    if isinstance(entry, StreamText):
        return {"output_type": "stream", "name": entry.name, "text": entry.text}
    return entry.output


def estimate_size(output: dict[str, Any]) -> int:
    """Approximate stored bytes of a non-stream output."""
    size = _OVERHEAD
    for key in ("data", "metadata"):
        value = output.get(key)
        if value:
            for item in value.values():
                if isinstance(item, str):
                    size += len(item)
                elif isinstance(item, list) and all(isinstance(line, str) for line in item):
                    size += sum(map(len, item))
                else:
                    size += len(json.dumps(item, default=str))
    if output["output_type"] == "error":
        size += len(output["ename"]) + len(output["evalue"]) + sum(map(len, output["traceback"]))
    return size


def terminal_text(text: str) -> str:
    """``text`` with ``\\r`` and ``\\b`` applied as JupyterLab renders it (unbounded)."""
    if "\r" not in text and "\b" not in text:
        return text
    stream = StreamText("stdout")
    stream.write(text)
    return stream.text
