"""The quick masking path (lint/magics.py `_mask_simple`, no IPython tokenizer) finds exactly
what IPython's path finds, on the corpus and on cells made to trip it up."""

from __future__ import annotations

import re
from pathlib import Path
from random import Random

import pytest

from jupyter_sidecar_ext.lint import magics
from jupyter_sidecar_ext.lint.magics import Masked, MaskError, mask_magics

CORPUS = Path(__file__).parent / "corpus"
TRICKY = [
    "%time x\nprint(1)",
    "x = '''\n%d\n'''",  # inside a string: not a magic
    "y = (1,\n!ls\n)",  # inside brackets
    "if x:\n    !ls\nelse:\n    %time f()",
    "a = 1 + \\\n%x",  # a continued line
    "x = 1; \\\n%time y\n",  # a statement continued onto the magic's line
    "%time \\\n  slow()",  # a continued magic
    "!ls",
    "%matplotlib inline\nimport os",
    "   %x\nx",
    "%x\nfiles = !ls",  # an assignment: IPython's path
    "@d\n%m\ndef f(): pass",
    "def f():\n    '''doc\n%x'''\n    %time 1\n",
    "%x\r\nprint(1)\r\n",
    "try:\n    %x\nexcept E:\n    !y\nfinally:\n    %z",
    "match v:\n    case 1:\n        %x",
    "print(1)\n%who",  # no newline at the end
    "obj?\n%x",
]


def corpus_inputs() -> list[str]:
    inputs = []
    for path in sorted(CORPUS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if "#### input\n" in text:
            inputs.append(text.split("#### input\n", 1)[1].split("\n#### ", 1)[0])
    return inputs


def normalized(result: Masked | Exception) -> object:
    if isinstance(result, Exception):
        return type(result)
    nonce = re.compile(r"_[0-9a-f]{8}__")
    return nonce.sub("_N__", result.source), {
        nonce.sub("_N__", k): v for k, v in result.magics.items()
    }


def through_ipython(source: str) -> Masked | Exception:
    try:
        maybe = magics._MAYBE_MAGIC.search(source) or magics._AUTOMAGIC.search(source)
        if not maybe or magics._parses(source):
            return Masked(source)
        return magics._mask_with_ipython(source)
    except MaskError as error:
        return error


@pytest.mark.parametrize("source", [*TRICKY, *corpus_inputs()])
def test_quick_path_agrees_with_ipython(source: str) -> None:
    try:
        quick: Masked | Exception = mask_magics(source)
    except MaskError as error:
        quick = error
    assert normalized(quick) == normalized(through_ipython(source))


def test_plain_magics_never_reach_ipython_tokenizer(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(source: str) -> Masked:
        raise AssertionError("IPython's path was taken")

    monkeypatch.setattr(magics, "_mask_with_ipython", refuse)
    masked = mask_magics("%matplotlib inline\nimport os\nif os:\n    !ls -la\nprint(os)")
    assert sorted(masked.magics.values()) == ["!ls -la", "%matplotlib inline"]


def test_the_fast_first_test_agrees_with_the_patterns() -> None:
    """`_may_hold_ipython` is `_MAYBE_MAGIC` or `_AUTOMAGIC`, split so it runs faster."""
    pieces = ["%", "!", "?", ",", ";", "/", "=", " ", "\t", "\n", "\\", "\r", "x", "pip", "ls"]
    pieces += ["cd", " install", "(", "a = ", "%%time", "obj?", "#"]
    random = Random(17)
    cases = [*TRICKY, *corpus_inputs(), ""]
    cases += ["".join(random.choices(pieces, k=random.randint(1, 12))) for _ in range(20_000)]
    for source in cases:
        expected = bool(magics._MAYBE_MAGIC.search(source) or magics._AUTOMAGIC.search(source))
        assert magics._may_hold_ipython(source) is expected, repr(source)


@pytest.mark.parametrize("source", [*TRICKY, *corpus_inputs()])
def test_unchecked_masking_agrees_whenever_it_parses(source: str) -> None:
    """Without `check_parse` the quick path skips its own parse only where the result is the
    checked one as soon as it parses; where it does not parse, the caller masks again."""
    try:
        quick = mask_magics(source, check_parse=False)
    except MaskError:
        return
    if not quick.parse_unchecked or magics._parses(quick.source):
        assert normalized(quick) == normalized(mask_magics(source))


@pytest.mark.parametrize(
    "source",
    ["y = (1,\n!ls\n)", "x = '''\n%d\n'''", "a = 1 + \\\n%x", "f(a, # )\n%x\n)"],
)
def test_unchecked_masking_needs_nothing_carried_into_an_escape(source: str) -> None:
    """A bracket, quote or backslash before an escape line may make it a continuation: the
    parser decides there, as with `check_parse`."""
    try:
        quick = mask_magics(source, check_parse=False)
    except MaskError:
        return
    assert not quick.parse_unchecked
