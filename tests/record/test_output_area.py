"""Stream text and output-area rules, checked against a transcription of JupyterLab 4.6.

No kernel: chunks are fed the way iopub ``stream`` messages deliver them.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jupyter_sidecar_ext.record.output_area import OutputArea, RichOutput, StreamText, terminal_text


def jupyterlab_text(new_text: str, text: str = "", index: int = 0) -> tuple[str, int]:
    """``Private.processText`` of @jupyterlab/outputarea 4.6 (model.ts), one char at a time.

    Plain characters overwrite at the cursor, ``\\r`` moves the cursor to the line
    start, ``\\n`` appends a newline at the end, ``\\b`` removes the characters before
    and under the cursor (``text.slice(0, i - 1) + text.slice(i + 1)``).
    """
    for char in new_text:
        if char == "\b":
            if index > 0 and text[index - 1] != "\n":
                text = text[: index - 1] + text[index + 1 :]
                index -= 1
        elif char == "\r":
            while index > 0 and text[index - 1] != "\n":
                index -= 1
        elif char == "\n":
            text += "\n"
            index = len(text)
        else:
            text = text[:index] + char + text[index + 1 :]
            index += 1
    return text, index


def written(*chunks: str, limit: int | None = None) -> StreamText:
    stream = StreamText("stdout", limit)
    for chunk in chunks:
        stream.write(chunk)
    return stream


# Real tqdm 4.x writes: "\r" + bar, padded with spaces when shorter than the last one;
# ipykernel batches writes made within one flush interval into one message.
TQDM_CHUNKS = [
    "\r  0%|          | 0/5 [00:00<?, ?it/s]",
    "\r 20%|██        | 1/5 [00:00<00:00,  9.98it/s]",
    "\r 40%|████      | 2/5 [00:00<00:00,  9.96it/s]"
    "\r 60%|██████    | 3/5 [00:00<00:00,  9.95it/s]",  # two updates in one message
    "\r 80%|████████  | 4/5 [00:00<00:00,  9.95it/s]",
    "\r100%|██████████| 5/5 [00:00<00:00,  9.94it/s]",
    "\r100%|██████████| 5/5 [00:00<00:00,  9.94it/s]",
    "\n",
]


@pytest.mark.parametrize(
    ("chunks", "expected"),
    [
        (["hello\n", "world\n"], "hello\nworld\n"),
        (["abc"], "abc"),
        (["abcdef\rXY"], "XYcdef"),  # \r moves the cursor, it erases nothing
        (["abcdef\rXY\n"], "XYcdef\n"),
        (["50%\r", "60%\r", "done\n"], "done\n"),  # trailing \r stays pending
        (["50%\r"], "50%"),
        (["a long line\r", "short"], "shortg line"),
        (["a\r\nb\r\n"], "a\nb\n"),  # \r\n is a newline
        (["a\r", "\nb"], "a\nb"),  # ... even split across chunks
        (["a\r\r\n"], "a\n"),
        (["abc\b"], "ab"),
        (["abc\b\b\b"], ""),  # jupyterlab#16515
        (["abc\b\b\b\bd"], "d"),
        (["ab\n\bc"], "ab\nc"),  # \b does not cross a newline
        (["ab\n", "\b\bc"], "ab\nc"),
        (["abcd\rx\b"], "cd"),  # JupyterLab 4.6 quirk: removes before *and* under the cursor
        (["|\b/\b-\b\\\b|"], "|"),  # spinner
        (["x\r\r\ry"], "y"),
        (["first\nsecond\rSEC"], "first\nSECond"),
        (TQDM_CHUNKS, "100%|██████████| 5/5 [00:00<00:00,  9.94it/s]\n"),
    ],
)
def test_terminal_semantics(chunks: list[str], expected: str) -> None:
    assert written(*chunks).text == expected
    assert jupyterlab_text("".join(chunks))[0] == expected
    assert terminal_text("".join(chunks)) == expected


def test_tqdm_followed_by_print_ends_as_two_lines() -> None:
    stream = written(*TQDM_CHUNKS, "training done\n")
    assert stream.text.splitlines() == [
        "100%|██████████| 5/5 [00:00<00:00,  9.94it/s]",
        "training done",
    ]


chunk_lists = st.lists(st.text(alphabet="ab \n\r\bé", max_size=12), max_size=40)


@settings(max_examples=400, deadline=None)
@given(chunk_lists)
def test_chunks_match_jupyterlab_on_the_whole_text(chunks: list[str]) -> None:
    assert written(*chunks).text == jupyterlab_text("".join(chunks))[0]


@settings(max_examples=200, deadline=None)
@given(chunk_lists)
def test_chunks_match_jupyterlab_chunk_by_chunk(chunks: list[str]) -> None:
    stream = StreamText("stdout")
    text, index = "", 0
    for chunk in chunks:
        stream.write(chunk)
        text, index = jupyterlab_text(chunk, text, index)
        assert stream.text == text


short_lines = st.lists(st.text(alphabet="ab\r\b", max_size=12), max_size=200)
MARKER = re.compile(
    r"\[jupyter-sidecar: ([\d,]+) characters \(([\d,]+) lines\) of output dropped\]\n"
)


@settings(max_examples=200, deadline=None)
@given(short_lines, st.lists(st.integers(1, 40), min_size=1, max_size=10))
def test_truncation_keeps_head_and_tail_of_the_real_text(lines: list[str], cuts: list[int]) -> None:
    whole = "".join(line + "\n" for line in lines)
    chunks, pos, i = [], 0, 0
    while pos < len(whole):
        step = cuts[i % len(cuts)]
        chunks.append(whole[pos : pos + step])
        pos, i = pos + step, i + 1
    expected = jupyterlab_text(whole)[0]
    stream = written(*chunks, limit=400)
    assert stream.size <= 400 and len(stream.text) <= 400
    if not stream.truncated:
        assert stream.text == expected
        return
    head, dropped, lines_dropped, tail = _split(stream.text)
    assert expected.startswith(head) and expected.endswith(tail)
    assert dropped == len(expected) - len(head) - len(tail) == stream.dropped_chars
    assert lines_dropped == expected.count("\n") - head.count("\n") - tail.count("\n")
    assert head == "" or head.endswith("\n")
    assert tail.startswith(expected[len(expected) - len(tail) :])


def _split(text: str) -> tuple[str, int, int, str]:
    match = MARKER.search(text)
    assert match is not None, text
    chars, lines = (int(g.replace(",", "")) for g in match.groups())
    return text[: match.start()], chars, lines, text[match.end() :]


def test_million_lines_stay_within_budget() -> None:
    limit = 1_000_000
    stream = StreamText("stdout", limit)
    total = 0
    for start in range(0, 1_000_000, 100):
        chunk = "".join(f"line {n}\n" for n in range(start, start + 100))
        total += len(chunk)
        stream.write(chunk)
    text = stream.text
    assert len(text) <= limit
    head, dropped, lines_dropped, tail = _split(text)
    assert head.startswith("line 0\nline 1\n")
    assert tail.endswith("line 999999\n")
    assert tail.startswith("line ")  # cut at a line boundary
    kept_lines = head.count("\n") + tail.count("\n")
    assert lines_dropped == 1_000_000 - kept_lines
    assert dropped == total - len(head) - len(tail)
    first_kept = int(tail.split("\n", 1)[0].removeprefix("line "))
    last_head = int(head.rstrip("\n").rsplit("\n", 1)[1].removeprefix("line "))
    assert first_kept - last_head - 1 == lines_dropped


def test_one_endless_line_keeps_its_end() -> None:
    stream = StreamText("stdout", 1000)
    for n in range(10_000):
        stream.write(f"{n} ")
    assert stream.truncated
    assert stream.size <= 1000 and len(stream.text) <= 1000
    assert stream.text.endswith("9998 9999 ")
    assert "characters (0 lines) of output dropped" in stream.text


def test_progress_bar_on_an_endless_line_keeps_updating() -> None:
    stream = StreamText("stdout", 1000)
    for n in range(10_000):
        stream.write(f"\r{n:>6}")
    assert not stream.truncated
    assert stream.text == "  9999"


# -- OutputArea ---------------------------------------------------------------------------


def display(text: str, display_id: str | None = None) -> RichOutput:
    output = {"output_type": "display_data", "data": {"text/plain": text}, "metadata": {}}
    return RichOutput(output, display_id)


def texts(area: OutputArea) -> list[str]:
    return [
        o["text"] if o["output_type"] == "stream" else o["data"]["text/plain"] for o in area.outputs
    ]


def test_streams_merge_only_with_the_last_output_of_the_same_name() -> None:
    area = OutputArea(10_000)
    area.write_stream("stdout", "a\n")
    area.write_stream("stdout", "b\n")
    area.write_stream("stderr", "e\n")
    area.write_stream("stdout", "c\n")
    area.add(display("d"))
    area.write_stream("stdout", "f\n")
    assert texts(area) == ["a\nb\n", "e\n", "c\n", "d", "f\n"]


def test_clear_wait_clears_right_before_the_next_output() -> None:
    area = OutputArea(10_000)
    area.write_stream("stdout", "old\n")
    area.clear(wait=True)
    area.clear(wait=True)
    assert texts(area) == ["old\n"]
    area.write_stream("stdout", "new\n")
    area.write_stream("stdout", "more\n")
    assert texts(area) == ["new\nmore\n"]


def test_outputs_are_cached_until_a_change() -> None:
    area = OutputArea(10_000)
    area.write_stream("stdout", "a")
    first = area.outputs
    assert area.outputs is first
    area.write_stream("stdout", "b")
    assert area.outputs is not first
    assert texts(area) == ["ab"]


def test_many_outputs_keep_head_marker_and_tail() -> None:
    area = OutputArea(10_000)
    for n in range(100_000):
        area.add(display(f"out {n}"))
    outputs = area.outputs
    assert area.truncated
    assert area.output_size <= 10_000
    marker = [o for o in outputs if o["output_type"] == "stream"]
    assert len(marker) == 1 and marker[0]["name"] == "stderr"
    shown = [o["data"]["text/plain"] for o in outputs if o["output_type"] == "display_data"]
    assert shown[0] == "out 0"
    assert shown[-1] == "out 99999"
    numbers = [int(s.split()[1]) for s in shown]
    gap = [b - a for a, b in itertools.pairwise(numbers) if b - a != 1]
    assert len(gap) == 1
    match = re.search(r"([\d,]+) outputs", marker[0]["text"])
    assert match is not None
    assert int(match.group(1).replace(",", "")) == 100_000 - len(shown) == gap[0] - 1


def test_one_output_larger_than_the_budget_is_dropped_and_said() -> None:
    area = OutputArea(1000)
    area.add(display("small"))
    area.add(display("x" * 5000))
    area.add(display("after"))
    assert texts(area) == ["small", "[jupyter-sidecar: 1 outputs (5,100 bytes) dropped]\n", "after"]
