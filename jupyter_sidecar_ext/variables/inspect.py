"""Turn a kernel's `inspectVariables` answer into the rows the variables API serves (pure).

The answer is the Debug Adapter Protocol's variable records, built by debugpy's pydevd: `value`
is its bounded repr (`SafeRepr`), and the "function variables" / "class variables" groups it
folds functions and classes into (not identifiers) are dropped. The protocol carries no length,
shape or byte size, and asking would mean running code in the kernel, so `shape` and `size` are
derived from the preview only where that is exact, and are null otherwise (README "Variables"
lists the cases). Previews are parsed with `json.loads`, then `ast.literal_eval` (never
evaluating code), within PARSE_BUDGET_US of estimated work per refresh: `parse_cost` tells
callers whether it is small enough for the event loop.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

# pydevd SafeRepr: strings longer than this are cut (head + "..." + tail).
SAFEREPR_MAX_STRING = 2**16
# Previews parsed for shapes: estimated microseconds per refresh, and the longest container
# preview considered (pydevd shows at most ~60 items; longer ones are items with long reprs).
PARSE_BUDGET_US = 50_000.0
CONTAINER_MAX_CHARS = 4096
_US_PER_CHAR = {"text": 0.01, "container": 0.7}

_SIZED_LITERALS = frozenset({"list", "tuple", "set", "frozenset", "dict"})
_DATAFRAME_DIMS = re.compile(r"\[(\d+) rows x (\d+) columns\]\s*$")
_SERIES_LENGTH = re.compile(r"Length: (\d+)")
_NDARRAY_SHAPE = re.compile(r",\s*shape=\(([\d,\s]*)\)")
_NDARRAY_DTYPE = re.compile(r",\s*dtype=([\w'\"]+)\)$")
_INTS = re.compile(r"\d+")
_ITEMSIZE = {
    f"{kind}{bits}": bits // 8
    for kind, sizes in (
        ("int", (8, 16, 32, 64)),
        ("uint", (8, 16, 32, 64)),
        ("float", (16, 32, 64)),
    )
    for bits in sizes
} | {"complex64": 8, "complex128": 16, "bool": 1}
_FRAME_TRUNCATED = re.compile(r"^\s*\.\.\.?(\s+\.\.\.?)*\s*$")
_SERIES_FOOTER = re.compile(r"^(Freq: [^,]+, )?(Name: .*, )?dtype: \S+$")
_NDARRAY = re.compile(r"^array\((?P<body>.*?)(?:,\s*dtype=[\w.\[\]<>']+)?\)$", re.DOTALL)


@dataclass(frozen=True)
class VariableFilter:
    """What a snapshot keeps (built from VariablesService's settings)."""

    show_private: bool = False
    hidden_types: frozenset[str] = frozenset(
        {"module", "function", "builtin_function_or_method", "method", "type"}
    )
    max_count: int = 500
    max_value_chars: int = 200


@dataclass
class ParsedSnapshot:
    """The rows kept, how many variables passed the filter, and whether rows were cut."""

    variables: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    @property
    def truncated(self) -> bool:
        return self.total > len(self.variables)


def parse_variables(raw: Any, flt: VariableFilter) -> ParsedSnapshot:
    """Filter, bound and describe the records of an `inspectVariables` body.

    Malformed records (other kernels implement the request too) are skipped, never fatal.
    """
    records = raw if isinstance(raw, list) else []
    parsed = ParsedSnapshot()
    budget = PARSE_BUDGET_US
    for record in records:
        if not isinstance(record, dict):
            continue
        name = record.get("name")
        type_name = record.get("type")
        type_name = type_name if isinstance(type_name, str) else ""
        if not isinstance(name, str) or not _visible(name, type_name, flt):
            continue
        parsed.total += 1
        if len(parsed.variables) >= flt.max_count:
            continue  # keep counting: the total says how many were left out
        value = record.get("value")
        value = value if isinstance(value, str) else ""
        shape: list[int] | None = None
        size: int | None = None
        cost = _cost(type_name, value)
        if cost <= budget:
            budget -= cost
            shape, size = shape_and_size(type_name, value)
        parsed.variables.append(
            {
                "name": name,
                "type": type_name,
                "value": preview(value, flt.max_value_chars),
                "size": size,
                "shape": shape,
                **units(type_name, shape, size),
            }
        )
    return parsed


def parse_cost(raw: Any) -> float:
    """Estimated microseconds `parse_variables` spends deriving shapes (bounded by budget)."""
    records = raw if isinstance(raw, list) else []
    total = sum(
        _cost(str(r.get("type")), r.get("value") or "") for r in records if isinstance(r, dict)
    )
    return min(total, PARSE_BUDGET_US) + len(records)  # plus ~1 us of filtering per record


def _cost(type_name: str, value: Any) -> float:
    if not isinstance(value, str):
        return 0.0
    if type_name in ("str", "bytes", "bytearray"):
        return len(value) * _US_PER_CHAR["text"]
    if type_name in _SIZED_LITERALS or type_name == "ndarray":
        if len(value) > CONTAINER_MAX_CHARS:
            return 0.0  # not parsed at all
        return len(value) * _US_PER_CHAR["container"]
    return 0.0


def rich_view(
    body: dict[str, Any], row: dict[str, Any] | None, limit: int
) -> dict[str, Any] | None:
    """A `richInspectVariables` body as the API's rich view, at most `limit` characters of
    data (past it, only the text/plain head). An empty bundle is an unknown name (None), or,
    for a variable of the snapshot (`row`), a display that failed: its preview stands in."""
    data = body.get("data") if isinstance(body.get("data"), dict) else None
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
    if not data:
        if row is None:
            return None
        return {
            "data": {"text/plain": row["value"]},
            "metadata": {},
            "truncated": False,
            "error": "The kernel could not format this variable; showing its preview.",
        }
    if sum(len(str(value)) for value in data.values()) <= limit:
        return {"data": data, "metadata": metadata or {}, "truncated": False}
    text = data.get("text/plain")
    text = preview(text if isinstance(text, str) else "", limit)
    return {"data": {"text/plain": text}, "metadata": {}, "truncated": True}


def is_listed(raw: Any, name: str, flt: VariableFilter) -> bool:
    """Whether an `inspectVariables` body lists `name` and the filter keeps it (whatever
    the count bound): what the rich view may serve."""
    records = raw if isinstance(raw, list) else []
    for record in records:
        if isinstance(record, dict) and record.get("name") == name:
            type_name = record.get("type")
            return _visible(name, type_name if isinstance(type_name, str) else "", flt)
    return False


def _visible(name: str, type_name: str, flt: VariableFilter) -> bool:
    if not name.isidentifier():  # pydevd's groups ("special variables", ...)
        return False
    if name.startswith("_") and not flt.show_private:
        return False
    return type_name not in flt.hidden_types


def preview(value: str, limit: int) -> str:
    """At most `limit` characters; a cut value ends with an ellipsis."""
    if len(value) <= limit:
        return value
    return value[: max(0, limit - 1)] + "\u2026"


def shape_and_size(type_name: str, value: str) -> tuple[list[int] | None, int | None]:
    """(shape, size in bytes) when the preview determines them exactly, else None each."""
    try:
        if type_name in ("str", "bytes", "bytearray"):
            return _text_shape(type_name, value)
        if type_name in _SIZED_LITERALS:
            count = _literal_len(type_name, value)
            return ([count] if count is not None else None), None
        if type_name == "ndarray":
            return ndarray_shape_and_size(value)
        if type_name == "DataFrame":
            match = _DATAFRAME_DIMS.search(value)
            return ([int(match[1]), int(match[2])] if match else frame_shape(value)), None
        if type_name == "Series":
            match = _SERIES_LENGTH.search(value)
            return ([int(match[1])] if match else series_shape(value)), None
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        pass
    return None, None


def _text_shape(type_name: str, value: str) -> tuple[list[int] | None, int | None]:
    if type_name == "bytearray":
        if not (value.startswith("bytearray(") and value.endswith(")")):
            return None, None
        value = value[len("bytearray(") : -1]
    if len(value) > 4 * SAFEREPR_MAX_STRING + 16:
        return None, None
    text = ast.literal_eval(value)
    if not isinstance(text, str | bytes) or len(text) > SAFEREPR_MAX_STRING:
        return None, None  # longer ones were cut by the kernel: the preview is not the value
    size = len(text.encode("utf-8", "surrogatepass")) if isinstance(text, str) else len(text)
    return [len(text)], size


def _literal_len(type_name: str, value: str) -> int | None:
    if type_name == "frozenset":
        if value == "frozenset()":
            return 0
        if not (value.startswith("frozenset(") and value.endswith(")")):
            return None
        value = value[len("frozenset(") : -1]
    if type_name == "set" and value == "set()":
        return 0
    if len(value) > CONTAINER_MAX_CHARS:
        return None
    container = _literal(value)
    if not isinstance(container, list | tuple | set | frozenset | dict):
        return None
    if isinstance(container, list | tuple) and container and container[-1] is Ellipsis:
        return None  # pydevd's "..." past the item limit: the preview is partial
    return len(container)


def _literal(value: str) -> Any:
    """A Python literal: JSON first (numeric lists are valid JSON and parse ~20x faster)."""
    try:
        return json.loads(value)
    except ValueError:
        return ast.literal_eval(value)


def ndarray_shape_and_size(value: str) -> tuple[list[int] | None, int | None]:
    """numpy's repr: a summarized one says `shape=(...)` (numpy 2); a complete one is a
    nested list. The size is known only when the repr names a fixed-size dtype (numpy leaves
    out the default ones, float64 and the platform's int, which are not guessed)."""
    text = value.strip()
    dims = _NDARRAY_SHAPE.search(text)
    shape = [int(n) for n in _INTS.findall(dims[1])] if dims else _ndarray_shape(text)
    dtype = _NDARRAY_DTYPE.search(text)
    itemsize = _ITEMSIZE.get(dtype[1].strip("'\"")) if dtype else None
    if shape is None or itemsize is None:
        return shape, None
    count = 1
    for n in shape:
        count *= n
    return shape, count * itemsize


def _ndarray_shape(value: str) -> list[int] | None:
    match = _NDARRAY.match(value)
    if match is None or "..." in value or len(value) > CONTAINER_MAX_CHARS:
        return None
    nested = _literal(match["body"])
    shape: list[int] = []
    level: Any = nested
    while isinstance(level, list):
        shape.append(len(level))
        if not level:
            break
        level = level[0]
    return shape if shape else []


def same_snapshot_rows(before: ParsedSnapshot, after: ParsedSnapshot) -> bool:
    """Whether two snapshots list the same rows and count (compared at C speed)."""
    return before.total == after.total and before.variables == after.variables


def changed_names(before: ParsedSnapshot, after: ParsedSnapshot) -> frozenset[str]:
    """Names whose row (type or value preview) differs between two snapshots, new names
    and names gone included; when either snapshot was cut, only names in both count (a
    name past the cut is not a deletion)."""
    old = {row["name"]: (row.get("type"), row.get("value")) for row in before.variables}
    new = {row["name"]: (row.get("type"), row.get("value")) for row in after.variables}
    if before.truncated or after.truncated:
        return frozenset(name for name in old.keys() & new.keys() if old[name] != new[name])
    return frozenset(name for name in old.keys() | new.keys() if old.get(name) != new.get(name))


def frame_shape(value: str) -> list[int] | None:
    """[rows, columns] of a complete DataFrame repr (no `[R rows x C columns]` footer).

    Exact only for the plain layout: one header line, one line per row, every row's last
    cells ending where the header's labels end (pandas right-aligns both), more words on
    each row than in the header (its index). Wrapped, multi-level, truncated or ambiguous
    layouts give None."""
    if value == "Empty DataFrame\nColumns: []\nIndex: []":
        return [0, 0]
    lines = value.split("\n")
    if len(lines) < 2 or any(not line.strip() for line in lines):
        return None
    header = _word_ends(lines[0])
    if not header or any(word == "..." for word in lines[0].split()):
        return None
    for line in lines[1:]:
        ends = _word_ends(line)
        if _FRAME_TRUNCATED.match(line) or len(ends) <= len(header):
            return None
        if ends[-len(header) :] != header:
            return None
    return [len(lines) - 1, len(header)]


def series_shape(value: str) -> list[int] | None:
    """[length] of a complete Series repr (no `Length:` footer): one line per row, then a
    `Name: ..., dtype: ...` line."""
    match = re.fullmatch(r"Series\(\[\], (Name: .*, )?dtype: \S+\)", value)
    if match:
        return [0]
    lines = value.split("\n")
    if len(lines) < 2 or not _SERIES_FOOTER.match(lines[-1]):
        return None
    rows = lines[:-1]
    if any(not line.strip() or _FRAME_TRUNCATED.match(line) for line in rows):
        return None
    return [len(rows)]


def _word_ends(line: str) -> list[int]:
    return [match.end() for match in re.finditer(r"\S+", line)]


_CONTAINERS = frozenset({"list", "tuple", "set", "frozenset", "dict", "range"})
_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def units(type_name: str, shape: list[int] | None, size: int | None) -> dict[str, Any]:
    """`length`, `shape_text` and `size_text` of a row: the units the table shows."""
    return {
        "length": shape[0] if shape else None,
        "shape_text": shape_text(type_name, shape),
        "size_text": size_text(size),
    }


def shape_text(type_name: str, shape: list[int] | None) -> str | None:
    """'2 rows x 3 cols' (DataFrame), '4 rows' (Series), '5 chars', '3 bytes', '2 items',
    '(2, 3)' (arrays and the rest); None when unknown."""
    if shape is None:
        return None

    def plural(count: int, unit: str) -> str:
        return f"{count:,} {unit}{'' if count == 1 else 's'}"

    if type_name == "DataFrame" and len(shape) == 2:
        return f"{plural(shape[0], 'row')} x {plural(shape[1], 'col')}"
    if len(shape) == 1:
        if type_name == "Series":
            return plural(shape[0], "row")
        if type_name == "str":
            return plural(shape[0], "char")
        if type_name in ("bytes", "bytearray"):
            return plural(shape[0], "byte")
        if type_name in _CONTAINERS:
            return plural(shape[0], "item")
        return f"({shape[0]},)"
    return "(" + ", ".join(str(n) for n in shape) + ")"


def size_text(size: int | None) -> str | None:
    """Bytes in binary multiples: '512 B', '1.2 KB', '3.0 MB'; None when unknown."""
    if size is None:
        return None
    value = float(size)
    for unit in _SIZE_UNITS:
        if value < 1024 or unit == _SIZE_UNITS[-1]:
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return None  # unreachable
