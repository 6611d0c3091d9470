"""inspectVariables records -> API rows: filtering, bounds, and shapes only where exact."""

from __future__ import annotations

from typing import Any

import pytest

from jupyter_sidecar_ext.variables.inspect import (
    CONTAINER_MAX_CHARS,
    VariableFilter,
    parse_cost,
    parse_variables,
    preview,
    rich_view,
    shape_and_size,
    units,
)


def record(name: str, type_name: str, value: str) -> dict[str, Any]:
    """A record as ipykernel's debugger sends it."""
    return {
        "name": name,
        "type": type_name,
        "value": value,
        "evaluateName": name,
        "variablesReference": 0,
    }


GROUPS = [
    record("special variables", "", ""),
    record("function variables", "", ""),
    record("class variables", "", ""),
]


def test_filters_groups_private_and_hidden_types() -> None:
    raw = [
        *GROUPS,
        record("a", "int", "1"),
        record("_p", "int", "2"),
        record("os", "module", "<module 'os' (frozen)>"),
        record("fn", "builtin_function_or_method", "<built-in function len>"),
    ]
    parsed = parse_variables(raw, VariableFilter())
    assert [v["name"] for v in parsed.variables] == ["a"]
    assert parsed.total == 1 and not parsed.truncated

    shown = parse_variables(raw, VariableFilter(show_private=True, hidden_types=frozenset()))
    assert [v["name"] for v in shown.variables] == ["a", "_p", "os", "fn"]


def test_count_is_bounded_and_the_rest_counted() -> None:
    raw = [record(f"v{i}", "int", str(i)) for i in range(50)]
    parsed = parse_variables(raw, VariableFilter(max_count=10))
    assert len(parsed.variables) == 10 and parsed.total == 50 and parsed.truncated


def test_values_are_bounded() -> None:
    long = "'" + "y" * 65_536 + "'"
    parsed = parse_variables([record("s", "str", long)], VariableFilter(max_value_chars=20))
    value = parsed.variables[0]["value"]
    assert len(value) == 20 and value.endswith("\u2026")
    assert preview("short", 20) == "short"


@pytest.mark.parametrize(
    "raw",
    [None, "nope", [None, 3, {"name": 5}, {"type": "int"}], [{"name": "ok", "value": None}]],
)
def test_malformed_records_are_skipped(raw: Any) -> None:
    parsed = parse_variables(raw, VariableFilter())
    assert all(isinstance(v["name"], str) for v in parsed.variables)


@pytest.mark.parametrize(
    ("type_name", "value", "shape", "size"),
    [
        ("str", "'héllo'", [5], 6),
        ("str", "''", [0], 0),
        ("bytes", "b'abc'", [3], 3),
        ("bytearray", "bytearray(b'ab')", [2], 2),
        ("list", "[1, 2, 3]", [3], None),
        ("list", "[]", [0], None),
        ("list", "[[0, 1, ...], [2]]", [2], None),  # inner items cut: the count still holds
        ("tuple", "(1,)", [1], None),
        ("set", "{1, 2}", [2], None),
        ("set", "{}", [0], None),  # pydevd writes an empty set as {}
        ("frozenset", "frozenset({1})", [1], None),
        ("dict", "{'a': 1, 'b': [2]}", [2], None),
        ("ndarray", "array([[0, 1, 2],\n       [3, 4, 5]])", [2, 3], None),
        ("ndarray", "array([1., 2.], dtype=float32)", [2], 8),  # a named dtype: its size
        ("ndarray", "array(5)", [], None),
        ("ndarray", "array([   0,    1, ..., 1998, 1999], shape=(2000,))", [2000], None),
        ("ndarray", "array([0, 0, ..., 0, 0], shape=(10, 300), dtype=int32)", [10, 300], 12000),
        ("ndarray", "array([], dtype=float64)", [0], 0),
        ("DataFrame", "     a\n0    1\n..  ..\n\n[1000 rows x 3 columns]", [1000, 3], None),
        ("DataFrame", "   a    b\n0  1  3.5\n1  2  4.0", [2, 2], None),  # complete, no footer
        ("DataFrame", "   a\n0  1", [1, 1], None),
        ("DataFrame", "         name  n\nfirst   a b c  1\nsecond    d e  2", [2, 2], None),
        ("DataFrame", "Empty DataFrame\nColumns: []\nIndex: []", [0, 0], None),
        ("Series", "0    1\n    ..\nName: s, Length: 500, dtype: int64", [500], None),
        ("Series", "0    1\n1    2\n2    3\nName: x, dtype: int64", [3], None),
        ("Series", "a    1.5\nb    NaN\ndtype: float64", [2], None),
        ("Series", "Series([], dtype: float64)", [0], None),
    ],
)
def test_exact_shapes(type_name: str, value: str, shape: list[int], size: int | None) -> None:
    assert shape_and_size(type_name, value) == (shape, size)


@pytest.mark.parametrize(
    ("type_name", "value"),
    [
        ("list", "[0, 1, 2, ...]"),  # pydevd's cut past 60 items
        ("dict", "{0: 0, 1: 1, ...}"),
        ("list", "[<__main__.K object at 0x7f>, 2]"),  # not a literal: unknown, not guessed
        ("str", "'" + "y" * 43_690 + "..." + "y" * 21_845 + "'"),  # cut by the kernel
        ("ndarray", "array([0, 1, 2, ..., 7, 8, 9])"),
        ("ndarray", "array([nan,  1.])"),
        ("DataFrame", "     a\nidx   \n0    1"),  # a named index: one more header line
        ("DataFrame", "col  a  b\n0    1  2"),  # a named column axis
        ("DataFrame", "   a\n0  1\n.. ..\n9  9"),  # cut without a footer (show_dimensions)
        ("DataFrame", "   a  ...\n0  1  ..."),
        ("DataFrame", "   aaaa  \\\n0     1   \n\n   b\n0  2"),  # wrapped in blocks
        ("DataFrame", "  x     \n  a    b\n0 1    2"),  # two header lines (MultiIndex)
        ("Series", "0    a\n1    b\nName: x, dtype: category\nCategories (2, object): ['a', 'b']"),
        ("Series", "0    1\n    ..\n9    9\ndtype: int64"),
        ("int", "42"),
        ("K", "<__main__.K object at 0x7f>"),
    ],
)
def test_unknown_shapes_stay_null(type_name: str, value: str) -> None:
    assert shape_and_size(type_name, value) == (None, None)


def test_parse_budget_bounds_the_work() -> None:
    value = "'" + "x" * 60_000 + "'"
    raw = [record(f"s{i}", "str", value) for i in range(100)]
    parsed = parse_variables(raw, VariableFilter())
    shaped = [v for v in parsed.variables if v["shape"] is not None]
    assert 0 < len(shaped) < 100  # past the budget, shapes are left unknown


def test_long_container_previews_are_not_parsed() -> None:
    long_items = "[" + ", ".join(repr("z" * 120) for _ in range(40)) + "]"
    assert len(long_items) > CONTAINER_MAX_CHARS
    assert shape_and_size("list", long_items) == (None, None)
    assert parse_cost([record("l", "list", long_items)]) < 10  # skipped: costs nothing


def test_parse_cost_estimates_containers_above_strings() -> None:
    numbers = record("n", "list", repr(list(range(59))))
    text = record("s", "str", repr("x" * 2000))
    assert parse_cost([numbers]) > parse_cost([text])
    assert parse_cost("not a list") == 0


def test_rich_view() -> None:
    html = {"data": {"text/plain": "df", "text/html": "<table/>"}, "metadata": {"a": 1}}
    assert rich_view(html, None, 100) == {
        "data": {"text/plain": "df", "text/html": "<table/>"},
        "metadata": {"a": 1},
        "truncated": False,
    }
    big = rich_view({"data": {"text/plain": "x" * 50, "text/html": "y" * 50}}, None, 20)
    assert big is not None and big["truncated"] and list(big["data"]) == ["text/plain"]
    assert len(big["data"]["text/plain"]) == 20
    assert rich_view({"data": {}, "metadata": {}}, None, 100) is None  # unknown name
    row = {"name": "bad", "type": "Raises", "value": "<Raises object>"}
    failed = rich_view({"data": {}}, row, 100)
    assert failed is not None and failed["data"] == {"text/plain": "<Raises object>"}
    assert "error" in failed


@pytest.mark.parametrize(
    ("type_name", "shape", "size", "expected"),
    [
        (
            "DataFrame",
            [2, 1],
            16,
            {"length": 2, "shape_text": "2 rows x 1 col", "size_text": "16 B"},
        ),
        (
            "Series",
            [1_000_000],
            8_000_000,
            {"length": 1_000_000, "shape_text": "1,000,000 rows", "size_text": "7.6 MB"},
        ),
        ("ndarray", [2, 3], 1234, {"length": 2, "shape_text": "(2, 3)", "size_text": "1.2 KB"}),
        ("ndarray", [5], None, {"length": 5, "shape_text": "(5,)", "size_text": None}),
        ("ndarray", [], 8, {"length": None, "shape_text": "()", "size_text": "8 B"}),
        ("str", [1], 1, {"length": 1, "shape_text": "1 char", "size_text": "1 B"}),
        ("bytes", [3], 3, {"length": 3, "shape_text": "3 bytes", "size_text": "3 B"}),
        ("dict", [2], None, {"length": 2, "shape_text": "2 items", "size_text": None}),
        ("int", None, None, {"length": None, "shape_text": None, "size_text": None}),
    ],
)
def test_units(
    type_name: str, shape: list[int] | None, size: int | None, expected: dict[str, Any]
) -> None:
    assert units(type_name, shape, size) == expected
