"""black's own notebook cell cases (black 26.10.1, tests/test_ipynb.py), run against our
formatter: input -> black's output (None: black leaves the cell alone). Deliberate differences
are listed apart, with why."""

from __future__ import annotations

import pytest

from jupyter_sidecar_ext.lint.format import FormatSpec, format_cell

SPEC = FormatSpec(tools=("black",))

BLACK_CASES: list[tuple[str, str | None]] = [
    ('foo = "a" ;', 'foo = "a";'),
    ('foo = "a" ;  # bar', 'foo = "a";  # bar'),
    ("import black;\n\n# this is a comment", None),
    ("with foo:\n    plot_bar();", None),
    ('foo = "a";', None),
    ("%%time\nfoo =bar", "%%time\nfoo = bar"),
    ("%%time\n2 + 2", None),
    ("!ls\n'foo'", '!ls\n"foo"'),
    ("!!ls\n'foo'", '!!ls\n"foo"'),
    ("?str\n'foo'", '?str\n"foo"'),
    ("??str\n'foo'", '??str\n"foo"'),
    ("%matplotlib inline\n'foo'", '%matplotlib inline\n"foo"'),
    ("%time\n'foo'", '%time\n"foo"'),
    ("%%bash\n2+2", None),
    ("%%html --isolated\n2+2", None),
    ("%%writefile e.txt\n  meh\n meh", None),
    ('%time foo()\nget_ipython().run_cell_magic("time", "", "foo()\\n")', None),
    ("ls = !ls", None),
    (
        "installed_packages_in_this_environment = !pip list --format=freeze"
        " --disable-pip-version-check",
        None,
    ),
    (
        "benchmark_result_for_the_training_loop = %timeit -o"
        " train_model(dataset, epochs=10, batch_size=32)",
        None,
    ),
    (
        "if True:\n    installed_packages_in_this_environment = !pip list"
        " --format=freeze --disable-pip-version-check",
        None,
    ),
    ("\n\n\n%time \n\n", "%time"),
    ("  \n\t\n%%timeit -n4 \t \nx=2  \n\r\n", "%%timeit -n4\nx = 2"),
    (
        "  \t\n\n%%capture \nx=2 \n%config \n\n%env\n\t  \n \n\n",
        "%%capture\nx = 2\n%config\n\n%env",
    ),
    ("%%custom_python_magic -n1 -n2\nx=2", None),
    ("%%time\n%%time\n2+2", "%%time\n%%time\n2 + 2"),
    ("%%t -n1\nls = !ls", None),
    ("pip install black", None),
    ("%time 1 + \\\n2", None),
    ("1 + \\\n2", "1 + 2"),
    ("", None),
]

# Where we differ on purpose:
# - `x =!ls`, `env =  %env`: a magic line is kept verbatim (black respaces the `=`).
# - `a = b??`: black turns it into `??b` (IPython's set_next_input rewrite); we keep the line.
# - black leaves a cell alone when it cannot parse it; we say why (`error`), as for any cell.
# - black skips cells whose `%%magic` follows blank/comment lines ("   %%custom_magic \nx=2",
#   "# comment\n%%custom_magic\nx=2"); we leave them alone too, but not from a parse failure.
DIFFERENT: list[tuple[str, str | None, str]] = [
    ("a = b??", None, "kept as written"),
    ("ls =!ls", None, "magic line verbatim"),
    ("env =  %env var", None, "magic line verbatim"),
    ("变量 =  %env var", None, "magic line verbatim"),
    ("%%timeit -n1\nls =!ls", None, "magic line verbatim"),
    ("%%time\nif True", None, "reported as an error"),
]


@pytest.mark.parametrize(("source", "expected"), BLACK_CASES)
def test_black_cases(source: str, expected: str | None) -> None:
    outcome = format_cell(source, SPEC)
    assert outcome.error is None
    assert outcome.source == (source if expected is None else expected)


def test_deliberate_differences() -> None:
    for source, _, _ in DIFFERENT[:-1]:
        assert format_cell(source, SPEC) == (source, False, None)
    outcome = format_cell("%%time\nif True", SPEC)
    assert outcome.source == "%%time\nif True" and outcome.error


def test_errors_never_show_placeholders() -> None:
    outcome = format_cell("%time x\nx = (\n", SPEC)
    assert outcome.error is not None and "__sidecar_magic" not in outcome.error
    outcome = format_cell("%time \\\n  x\nx = (\n", SPEC)
    assert outcome.error is not None and "__sidecar" not in outcome.error
