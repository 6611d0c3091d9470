"""What a cell defines and uses, construct by construct (dataflow/analysis.py)."""

from __future__ import annotations

import sys

import pytest

from jupyter_sidecar_ext.dataflow.analysis import analyze

# (source, defines, uses)
TABLE: list[tuple[str, set[str], set[str]]] = [
    ("x = y + 1", {"x"}, {"y"}),
    ("x = 1\ny = x", {"x", "y"}, set()),
    ("y = x\nx = 1", {"x", "y"}, {"x"}),  # read before defined: a use
    ("x += 1", {"x"}, {"x"}),
    ("x: int = f()", {"x"}, {"f"}),
    ("x: int", set(), set()),  # an annotation alone binds nothing
    ("a, (b, *c) = t", {"a", "b", "c"}, {"t"}),
    ("x = (y := g())", {"x", "y"}, {"g"}),
    ("if (n := len(s)) > 3:\n    m = n", {"n", "m"}, {"s"}),
    ("import numpy as np, os.path", {"np", "os"}, set()),
    ("from a.b import c, d as e", {"c", "e"}, set()),
    (
        "def f(a, b=default, *, c: T = 1) -> R:\n    return a + b + g",
        {"f"},
        {"default", "T", "R", "g"},
    ),
    ("def f():\n    return f()", {"f"}, set()),  # recursion is not a use
    ("def f():\n    return helper()\ndef helper():\n    pass", {"f", "helper"}, set()),
    ("@decorate(opt)\ndef f():\n    pass", {"f"}, {"decorate", "opt"}),
    (
        "class C(Base):\n    a = 1\n    b = a + z\n    def m(self):\n        return w",
        {"C"},
        {"Base", "z", "w"},
    ),
    ("class C:\n    attr = 1\nC.attr", {"C"}, set()),
    ("for i in range(n):\n    total = i", {"i", "total"}, {"n"}),
    ("with open(p) as fh:\n    data = fh.read()", {"fh", "data"}, {"p"}),
    ("del k", {"k"}, set()),
    ("def bump():\n    global counter\n    counter += 1", {"bump", "counter"}, {"counter"}),
    (
        "def outer():\n    v = 1\n    def inner():\n        nonlocal v\n        v = 2\n"
        "    return inner",
        {"outer"},
        set(),
    ),
    ("squares = [i * i for i in xs]", {"squares"}, {"xs"}),  # i does not leak
    ("i = 0\nsquares = [i for i in xs]", {"i", "squares"}, {"xs"}),
    ("d = {k: v for k, v in items if v > limit}", {"d"}, {"items", "limit"}),
    ("g = (a for a in b)", {"g"}, {"b"}),
    ("found = [y := v for v in vs]", {"found", "y"}, {"vs"}),  # walrus leaks to the cell
    ("f = lambda a, b=d: a + b + c", {"f"}, {"d", "c"}),
    ('print(f"{value:>{width}}")', set(), {"value", "width"}),
    ('df["a"] = 1', {"df"}, {"df"}),
    ("obj.attr = 1", {"obj"}, {"obj"}),
    ("lst.append(x)", {"lst"}, {"lst", "x"}),
    ("df.drop(columns=c, inplace=True)", {"df"}, {"df", "c"}),
    ("np.array(xs)", set(), {"np", "xs"}),  # calling a module function is no mutation
    ("del df['a']", {"df"}, {"df"}),
    ("try:\n    r = f()\nexcept ValueError as e:\n    print(e)", {"r"}, {"f"}),
    ("try:\n    pass\nexcept Err as e:\n    msg = str(e)", {"msg"}, {"Err"}),
    (
        "match cmd:\n    case [op, *args]:\n        r = op\n    case {'k': v, **rest}:\n"
        "        pass\n    case Point(x=px) as pt:\n        pass",
        {"op", "args", "r", "v", "rest", "px", "pt"},
        {"cmd", "Point"},
    ),
    ("%time x = f()", {"x"}, {"f"}),
    ("%timeit t = u", set(), {"u"}),  # timeit runs in a namespace of its own
    ("%%time\nx = f()", {"x"}, {"f"}),
    ("%%timeit\nt = u", set(), {"u"}),
    ("%%capture out\nr = s", {"out", "r"}, {"s"}),
    ("%%bash\necho $x", set(), set()),
    ("%%html\n<b>{x}</b>", set(), set()),
    ("files = !ls", {"files"}, set()),
    ("%matplotlib inline", set(), set()),
    ("x?", set(), set()),
    ("print(len(In), _, _3, __)", set(), set()),  # builtins and IPython's history names
    ("display(obj)", set(), {"obj"}),
]


@pytest.mark.parametrize(("source", "defines", "uses"), TABLE, ids=[t[0][:30] for t in TABLE])
def test_defines_and_uses(source: str, defines: set[str], uses: set[str]) -> None:
    names = analyze(source)
    assert names.error is None
    assert (set(names.defines), set(names.uses)) == (defines, uses)


def test_star_import_may_define_anything() -> None:
    names = analyze("from pylab import *")
    assert names.star and not names.defines


def test_mutations_are_named() -> None:
    assert analyze('df["a"] = 1\nlst.append(2)').mutates == {"df", "lst"}


def test_a_syntax_error_says_nothing_is_known() -> None:
    names = analyze("def f(:")
    assert names.error is not None and "SyntaxError" in names.error
    assert not names.defines and not names.uses


@pytest.mark.skipif(sys.version_info < (3, 12), reason="`type X = ...` parses from 3.12")
def test_type_alias() -> None:  # pragma: no cover - runtime dependent
    names = analyze("type Pair = tuple[A, A]")
    assert names.error is None
    assert set(names.defines) == {"Pair"} and set(names.uses) == {"A"}


def test_type_alias_before_3_12_is_a_syntax_error() -> None:
    if sys.version_info >= (3, 12):
        pytest.skip("parses on this Python")
    assert analyze("type Pair = tuple[A, A]").error is not None
