"""Runs INSIDE the kernel, on a subshell: one level of a variable's children, or a page of a
table's rows, answered as JSON.

The server sends this module's source with each request (explore.py) and the kernel keeps it
as a module in `sys.modules` (never in the user's namespace). Standard library only; numpy
and pandas are recognised by their type names, imported by nobody here. The user's code
(a `__repr__`, a `__getitem__`) runs in worker threads with deadlines, so a slow or raising
one costs its own child an error, and the subshell answers by the request's deadline.
"""

from __future__ import annotations

import itertools
import json
import math
import reprlib
import threading
import time
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_SCALARS = (str, int, float, bool, type(None))
_SIZED = (list, tuple, dict, set, frozenset, str, bytes, bytearray)
_OPAQUE = (
    types.ModuleType,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
    type,
)


class Refused(Exception):
    """The request cannot be answered: an HTTP status and why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def run(request: str) -> str:
    """Answer one request (JSON in, JSON out); never raises."""
    try:
        args = json.loads(request)
        budget = float(args["timeout"])
        answer = _within(lambda: _dispatch(args), budget)
    except Refused as refused:
        answer = {"error": {"status": refused.status, "message": refused.message}}
    except Exception as error:  # our bug or a hostile object: an answer, never a traceback
        answer = {"error": {"status": 500, "message": _describe(error)}}
    return json.dumps(answer, default=str)


def _dispatch(args: dict[str, Any]) -> dict[str, Any]:
    from IPython import get_ipython  # the kernel's shell; its namespace is the user's

    namespace = get_ipython().user_ns
    name = args["name"]
    if name not in namespace:
        raise Refused(404, f"Variable not found: {name}")
    obj = namespace[name]
    if args["op"] == "rows":
        return _rows(obj, args)
    for depth, step in enumerate(args["path"]):
        obj = _child(obj, step, args["path"][: depth + 1])
    return _children(obj, args)


# -- time bounds ---------------------------------------------------------------------------


def _within(call: Callable[[], Any], budget: float) -> Any:
    """`call()` in a worker thread, given up after `budget` seconds (the thread is left to
    finish on its own: Python cannot stop it)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = call()
        except BaseException as error:
            box["error"] = error

    worker = threading.Thread(target=work, name="sidecar-explore", daemon=True)
    worker.start()
    worker.join(budget)
    if worker.is_alive():
        raise Refused(504, f"The kernel did not finish within {budget:g} s (a slow __repr__?).")
    if "error" in box:
        raise box["error"]
    return box["value"]


def _map_timed(
    call: Callable[[Any], str], items: Sequence[Any], per_item: float, total: float
) -> tuple[list[str | None], list[str | None]]:
    """`call(item)` for each item, in order, in a worker thread: an item that raises or takes
    over `per_item` seconds gets an error, the others their value; past `total` seconds the
    rest are left unformatted (errors). Items whose formatting runs no user code (numbers,
    strings, numpy and pandas data, built-in containers of those) are formatted at once."""
    values: list[str | None] = [None] * len(items)
    errors: list[str | None] = [None] * len(items)
    if all(_plain(item) for item in items):
        for index, item in enumerate(items):
            try:
                values[index] = call(item)
            except Exception as exc:
                errors[index] = _describe(exc)
        return values, errors
    lock = threading.Lock()
    deadline = time.monotonic() + total
    start = 0
    while start < len(items):
        state: dict[str, Any] = {"next": start, "since": time.monotonic(), "stop": False}
        done = threading.Event()

        def work(state: dict[str, Any] = state, done: threading.Event = done) -> None:
            index = state["next"]
            while index < len(items):
                try:
                    value, error = call(items[index]), None
                except BaseException as exc:
                    value, error = None, _describe(exc)
                with lock:
                    if state["stop"]:
                        return
                    values[index], errors[index] = value, error
                    index += 1
                    state["next"], state["since"] = index, time.monotonic()
            done.set()

        threading.Thread(target=work, name="sidecar-repr", daemon=True).start()
        start = len(items)
        while not done.wait(min(per_item, 0.05)):
            now = time.monotonic()
            with lock:
                if now - state["since"] <= per_item and now <= deadline:
                    continue
                state["stop"] = True
                stuck = int(state["next"])
            errors[stuck] = f"Not shown: formatting took over {per_item:g} s."
            start = stuck + 1
            break
        if time.monotonic() > deadline:
            for index in range(start, len(items)):
                errors[index] = "Not shown: the page's time budget ran out."
            break
    return values, errors


def _plain(obj: Any, depth: int = 0) -> bool:
    """Whether formatting `obj` (as `_preview` does) runs only library code: built-in
    scalars, numpy and pandas data without Python objects, and built-in containers of those
    as far as reprlib looks (`_REPR.maxlevel` levels, `maxlist` items)."""
    cls = type(obj)
    if cls in _PLAIN_TYPES:
        return True
    module = getattr(cls, "__module__", "") or ""
    if module == "numpy" or (module.startswith("pandas") and cls.__name__ == "Series"):
        dtype = getattr(obj, "dtype", None)
        return getattr(dtype, "kind", "O") != "O"
    if module.startswith("pandas") and cls.__name__ == "DataFrame":
        return all(type(label) in _PLAIN_TYPES for label in obj.columns[: _REPR.maxlist + 1])
    if cls in _BUILTIN_CONTAINERS:
        if depth >= _REPR.maxlevel:
            return True  # reprlib writes `[...]` there without looking inside
        items = obj.items() if cls is dict else obj
        return all(
            _plain(item, depth + 1)
            if cls is not dict
            else _plain(item[0]) and _plain(item[1], depth + 1)
            for item in itertools.islice(items, _REPR.maxlist + 1)
        )
    return False


def _describe(error: BaseException) -> str:
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception:
        text = type(error).__name__
    return text[:300]


# -- kinds ---------------------------------------------------------------------------------


def _kind(obj: Any) -> str:
    """'DataFrame', 'Series', 'ndarray', 'mapping', 'sequence', 'set', 'object' or ''."""
    cls = type(obj)
    module = getattr(cls, "__module__", "") or ""
    if module.startswith("pandas") and cls.__name__ in ("DataFrame", "Series"):
        return str(cls.__name__)
    if module == "numpy" and cls.__name__ == "ndarray":
        return "ndarray"
    if isinstance(obj, (str, bytes, bytearray, memoryview, *_OPAQUE)):
        return ""
    if isinstance(obj, dict | Mapping):
        return "mapping"
    if isinstance(obj, list | tuple | range):
        return "sequence"
    if isinstance(obj, set | frozenset):
        return "set"
    if isinstance(obj, (*_SCALARS, complex)):
        return ""
    return "object"


def _attributes(obj: Any) -> list[tuple[str, Any]]:
    """An object's own attributes (its `__dict__` and slots): no properties, no methods."""
    found: list[tuple[str, Any]] = []
    own = getattr(obj, "__dict__", None)
    if isinstance(own, dict):
        found.extend((key, value) for key, value in own.items() if isinstance(key, str))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        for slot in (slots,) if isinstance(slots, str) else slots:
            if slot not in ("__dict__", "__weakref__") and hasattr(obj, slot):
                found.append((slot, getattr(obj, slot)))
    return found


def _count(obj: Any, kind: str) -> int:
    if kind == "DataFrame":
        return int(obj.shape[1])
    if kind == "ndarray":
        return int(obj.shape[0]) if obj.ndim else 0
    if kind == "object":
        return len(_attributes(obj))
    return len(obj)


def _expandable(obj: Any) -> bool:
    kind = _kind(obj)
    if not kind:
        return False
    try:
        return _count(obj, kind) > 0
    except Exception:
        return False


def _key(label: Any) -> Any:
    """A child's key as JSON: the label itself when JSON keeps it, else its repr."""
    if isinstance(label, _SCALARS) and not (isinstance(label, float) and not math.isfinite(label)):
        return label  # (NaN and infinities are not JSON: their repr stands in)
    return _bounded(repr(label), 200)


def _matches(label: Any, step: Any) -> bool:
    """Whether `step` (from the request's path) names `label`: as `_key` writes it."""
    key = _key(label)
    return type(key) is type(step) and key == step


# -- children ------------------------------------------------------------------------------


def _child(obj: Any, step: Any, path: list[Any]) -> Any:
    kind = _kind(obj)
    missing = Refused(404, f"No child at path {json.dumps(path)}")
    if kind in ("sequence", "set", "ndarray", "Series"):
        if not isinstance(step, int) or isinstance(step, bool):
            raise missing
        if not 0 <= step < _count(obj, kind):
            raise missing
        if kind == "set":
            return next(itertools.islice(obj, step, None))
        if kind == "Series":
            return obj.iloc[step]
        return obj[step]
    if kind == "DataFrame":
        for position, label in enumerate(obj.columns):
            if _matches(label, step):
                return obj.iloc[:, position]
        raise missing
    if kind == "mapping":
        if isinstance(step, str | int | float) and not isinstance(step, bool):
            try:
                if step in obj:
                    return obj[step]
            except TypeError:
                pass
        for label in obj:
            if _matches(label, step):
                return obj[label]
        raise missing
    if kind == "object":
        for attribute, value in _attributes(obj):
            if attribute == step:
                return value
        raise missing
    raise Refused(409, f"{type(obj).__name__} at path {json.dumps(path)} has no children.")


def _labelled(obj: Any, kind: str, offset: int, limit: int) -> list[tuple[Any, Any]]:
    """(label, child) for the page."""
    end = offset + limit
    if kind == "mapping":
        return list(itertools.islice(obj.items(), offset, end))
    if kind == "set":
        return list(enumerate(itertools.islice(obj, offset, end), start=offset))
    if kind == "object":
        return _attributes(obj)[offset:end]
    if kind == "DataFrame":
        labels = list(obj.columns[offset:end])
        return [(label, obj.iloc[:, offset + i]) for i, label in enumerate(labels)]
    if kind == "Series":
        return list(enumerate(obj.iloc[offset:end].tolist(), start=offset))
    return [(i, obj[i]) for i in range(offset, min(end, _count(obj, kind)))]


def _children(obj: Any, args: dict[str, Any]) -> dict[str, Any]:
    kind = _kind(obj)
    if not kind:
        raise Refused(409, f"A {type(obj).__name__} has no children to show.")
    offset, limit = int(args["offset"]), int(args["limit"])
    total = _count(obj, kind)
    page = _labelled(obj, kind, offset, limit)
    max_chars = int(args["max_chars"])
    values, errors = _map_timed(
        lambda child: _preview(child, max_chars),
        [child for _, child in page],
        float(args["repr_timeout"]),
        float(args["timeout"]) * 0.8,
    )
    children = []
    for (label, child), value, error in zip(page, values, errors, strict=True):
        shape, size = _shape_and_size(child)
        children.append(
            {
                "key": _key(label),
                "type": type(child).__name__,
                "value": value if error is None else None,
                "shape": shape,
                "size": size,
                "expandable": _expandable(child),
                "error": error,
            }
        )
    return {"total": total, "children": children, "truncated": offset + len(page) < total}


def _shape_and_size(obj: Any) -> tuple[list[int] | None, int | None]:
    """Exact shape and byte size where the type tells them cheaply (no user code)."""
    try:
        kind = _kind(obj)
        if kind in ("DataFrame", "ndarray"):
            size = obj.nbytes if kind == "ndarray" else int(obj.memory_usage(index=False).sum())
            return [int(n) for n in obj.shape], int(size)
        if kind == "Series":
            return [len(obj)], int(obj.nbytes)
        if isinstance(obj, str):
            return [len(obj)], len(obj.encode("utf-8", "surrogatepass"))
        if isinstance(obj, bytes | bytearray):
            return [len(obj)], len(obj)
        if type(obj) in _SIZED or type(obj) is range:
            return [len(obj)], None
    except Exception:
        pass
    return None, None


def _preview(obj: Any, max_chars: int) -> str:
    """A bounded repr: long strings and big containers are never formatted whole."""
    if isinstance(obj, str | bytes | bytearray):
        head = obj[: max_chars + 1]
        return _bounded(repr(head), max_chars)
    if type(obj).__module__ == "numpy" and getattr(obj, "ndim", None) == 0:
        return _bounded(str(obj), max_chars)  # a numpy scalar: 8, not np.int64(8)
    kind = _kind(obj)
    if kind in ("ndarray", "Series", "DataFrame"):  # their own reprs cost milliseconds
        return _bounded(_head(obj, kind), max_chars)
    if type(obj) in _BUILTIN_CONTAINERS:  # reprlib bounds their items
        return _bounded(_REPR.repr(obj), max_chars)
    return _bounded(repr(obj), max_chars)  # the object's own (errors are the child's)


def _head(obj: Any, kind: str) -> str:
    """The first items as a bounded list (one more than reprlib shows, so it writes `...`
    when there are more)."""
    keep = _REPR.maxlist + 1
    if kind == "DataFrame":
        return "columns " + _REPR.repr(list(obj.columns[:keep]))
    if kind == "Series":
        return _REPR.repr(obj.iloc[:keep].tolist())
    if obj.ndim == 0:
        return repr(obj.item())
    per_axis = max(2, min(keep, int(1000 ** (1 / obj.ndim))))
    return _REPR.repr(obj[(slice(0, per_axis),) * obj.ndim].tolist())


def _bounded(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max(0, max_chars - 1)] + "\u2026"


_BUILTIN_CONTAINERS = (list, tuple, dict, set, frozenset)
_PLAIN_TYPES = (int, float, bool, type(None), str, bytes, bytearray, complex, range)
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxfrozenset = _REPR.maxdict = 30
_REPR.maxdeque = _REPR.maxarray = 30
_REPR.maxstring = _REPR.maxother = _REPR.maxlong = 2000


# -- rows ----------------------------------------------------------------------------------


def _rows(obj: Any, args: dict[str, Any]) -> dict[str, Any]:
    kind = _kind(obj)
    if kind == "ndarray" and obj.ndim not in (1, 2):
        raise Refused(409, f"A {obj.ndim}-D array is not a table (1-D and 2-D ones are).")
    if kind not in ("DataFrame", "Series", "ndarray"):
        raise Refused(409, f"A {type(obj).__name__} is not a table.")
    offset, limit = int(args["offset"]), int(args["limit"])
    total = len(obj)
    labels, dtypes = _columns(obj, kind)
    positions = _order(obj, kind, labels, args, total)
    if positions is None:
        page = (
            obj.iloc[offset : offset + limit] if kind != "ndarray" else obj[offset : offset + limit]
        )
        index = _index_of(obj, kind, range(offset, min(offset + limit, total)))
    else:
        page = obj.iloc[positions] if kind != "ndarray" else obj[positions]
        index = _index_of(obj, kind, positions)
    if kind == "ndarray":
        cells = page.reshape(len(page), -1).tolist()
    elif kind == "Series":
        cells = [[value] for value in page.tolist()]
    else:
        cells = [
            list(row)
            for row in zip(*(page.iloc[:, j].tolist() for j in range(len(labels))), strict=True)
        ]
        if not labels:
            cells = [[] for _ in range(len(page))]
    max_chars = int(args["max_chars"])
    flat = [value for row in cells for value in row]
    values, errors = _map_timed(
        lambda value: _cell(value, max_chars),
        flat,
        float(args["repr_timeout"]),
        float(args["timeout"]) * 0.8,
    )
    texts = [v if e is None else f"\u26a0 {e}" for v, e in zip(values, errors, strict=True)]
    width = len(labels)
    return {
        "total_rows": total,
        "columns": [
            {"name": _label_text(label), "dtype": dtype}
            for label, dtype in zip(labels, dtypes, strict=True)
        ],
        "index": index,
        "rows": [texts[i * width : (i + 1) * width] for i in range(len(cells))],
    }


def _columns(obj: Any, kind: str) -> tuple[list[Any], list[str]]:
    if kind == "DataFrame":
        return list(obj.columns), [str(dtype) for dtype in obj.dtypes]
    if kind == "Series":
        return [obj.name if obj.name is not None else "value"], [str(obj.dtype)]
    count = obj.shape[1] if obj.ndim == 2 else 1
    return list(range(count)), [str(obj.dtype)] * count


def _label_text(label: Any) -> str:
    return (
        label
        if isinstance(label, str)
        else _bounded(repr(label) if not isinstance(label, int) else str(label), 200)
    )


def _index_of(obj: Any, kind: str, positions: Any) -> list[Any]:
    if kind == "ndarray":
        return [int(p) for p in positions]
    labels = (
        obj.index[list(positions)]
        if not isinstance(positions, range)
        else obj.index[positions.start : positions.stop]
    )
    return [
        _key(label) if isinstance(label, _SCALARS) else _bounded(str(label), 200)
        for label in labels.tolist()
    ]


def _order(obj: Any, kind: str, labels: list[Any], args: dict[str, Any], total: int) -> Any:
    """Row positions of the page when sorted by a column (None unsorted)."""
    sort = args.get("sort")
    if sort is None:
        return None
    column = next((j for j, label in enumerate(labels) if _label_text(label) == sort), None)
    if column is None:
        raise Refused(400, f"No column {sort!r} to sort by.")
    if total > int(args["max_sort_rows"]):
        raise Refused(
            409,
            f"Sorting is limited to {int(args['max_sort_rows']):,} rows; this table has {total:,}.",
        )
    offset, limit, ascending = int(args["offset"]), int(args["limit"]), bool(args["ascending"])
    try:
        if kind == "ndarray":
            values = obj[:, column] if obj.ndim == 2 else obj
            order = values.argsort(kind="stable")
            if not ascending:
                order = order[::-1]
            return order[offset : offset + limit]
        series = obj.iloc[:, column] if kind == "DataFrame" else obj
        ranked = series.reset_index(drop=True).sort_values(
            ascending=ascending, kind="stable", na_position="last"
        )
        return ranked.index[offset : offset + limit].to_numpy()
    except (TypeError, ValueError) as error:
        raise Refused(409, f"Column {sort!r} cannot be sorted: {_describe(error)}") from None


def _cell(value: Any, max_chars: int) -> str:
    if isinstance(value, str):
        return _bounded(value[: max_chars + 1], max_chars)
    if isinstance(value, float | int | bool | type(None)):
        return _bounded(str(value), max_chars)
    return _preview(value, max_chars)
