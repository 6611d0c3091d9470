"""The lint corpus: tricky cells with their exact expected results (tests/lint_corpus/*.txt).

A case file is a description line, optional `#### options: {json}` (request options plus
`tools`), `#### input`, then `#### output` (absent: the cell must come back unchanged) or
`#### error: PREFIX` (the cell keeps its source and gets an error starting with PREFIX).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from jupyter_sidecar_ext.lint.config import Discovered, build_spec
from jupyter_sidecar_ext.lint.format import TOOLS, FormatSpec, format_cell
from jupyter_sidecar_ext.lint.magics import mask_magics, split_cell_magic

CORPUS = Path(__file__).parent / "lint_corpus"


@dataclass
class Case:
    name: str
    options: dict[str, Any]
    source: str
    expected: str
    error: str | None

    @property
    def changed(self) -> bool:
        return self.expected != self.source


def load_case(path: Path) -> Case:
    sections: dict[str, list[str]] = {}
    options: dict[str, Any] = {}
    current: list[str] | None = None
    error = None
    text = path.read_text(encoding="utf-8")
    for line in text.removesuffix("\n").split("\n"):
        if line.startswith("#### options: "):
            options = json.loads(line.removeprefix("#### options: "))
        elif line.startswith("#### error: "):
            error = line.removeprefix("#### error: ")
        elif line in ("#### input", "#### output"):
            current = sections.setdefault(line.removeprefix("#### "), [])
        elif line.startswith("#### "):
            continue  # the description
        elif current is not None:
            current.append(line)
    source = "\n".join(sections["input"])
    expected = "\n".join(sections["output"]) if "output" in sections else source
    return Case(path.stem, options, source, expected, error)


CASES = [load_case(path) for path in sorted(CORPUS.glob("*.txt"))]


def spec_for(options: dict[str, Any]) -> FormatSpec:
    options = dict(options)
    tools = tuple(options.pop("tools", TOOLS))
    return build_spec(Discovered(), options, tools, None)


def test_corpus_is_there() -> None:
    assert len(CASES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_case(case: Case) -> None:
    outcome = format_cell(case.source, spec_for(case.options))
    if case.error is not None:
        assert outcome.error is not None and outcome.error.startswith(case.error), outcome
        assert outcome.source == case.source and not outcome.changed
        return
    assert outcome.error is None
    assert outcome.source == case.expected
    assert outcome.changed == case.changed


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_corpus_is_stable(case: Case) -> None:
    """Formatting a formatted cell again changes nothing."""
    if case.error is None:
        again = format_cell(case.expected, spec_for(case.options))
        assert (again.source, again.changed, again.error) == (case.expected, False, None)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_every_magic_line_survives_verbatim(case: Case) -> None:
    magic = split_cell_magic(case.source)
    if magic is None:
        kept = list(mask_magics(case.source).magics.values())
    else:
        kept = [magic.header, *mask_magics(magic.body).magics.values()]
    output = case.expected
    position = 0
    for text in kept:  # in the same order, each exactly once
        found = output.find(text.lstrip(), position)
        assert found >= position, (text, output)
        position = found + len(text.lstrip())


def test_huge_cell() -> None:
    """A 3,000-line cell (with a magic) is formatted whole."""
    body = "".join(f"value_{i}=compute( {i},'x' )\n" for i in range(3_000))
    outcome = format_cell("%time setup()\n" + body, spec_for({}))
    assert outcome.error is None and outcome.changed
    lines = outcome.source.split("\n")
    assert lines[0] == "%time setup()"
    assert lines[1] == 'value_0 = compute(0, "x")' and len(lines) == 3_001


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("s = '\ud800'\nx=1", "UnicodeEncodeError"),  # a lone surrogate: not encodable
        ("x = '\x00'\ny=1", "black: cannot parse"),  # a NUL byte
    ],
    ids=["lone_surrogate", "nul"],
)
def test_non_utf8_like_characters_are_a_cell_error(source: str, error: str) -> None:
    outcome = format_cell(source, spec_for({}))
    assert outcome.source == source and not outcome.changed
    assert outcome.error is not None and outcome.error.startswith(error)


def test_other_control_and_wide_characters() -> None:
    outcome = format_cell("s='\x1b[1m\u200b😀\U0001f600'\nt='\u0301e'", spec_for({}))
    assert outcome.source == 's = "\x1b[1m\u200b😀\U0001f600"\nt = "\u0301e"'


def test_placeholders_never_collide_with_the_source() -> None:
    source = "x = '__sidecar_magic_0_'\n%ls"
    masked = mask_magics(source)
    assert all(name not in source for name in masked.magics)
    assert re.fullmatch(r"x = '__sidecar_magic_0_'\n__sidecar_magic_0_[0-9a-f]{8}__", masked.source)
