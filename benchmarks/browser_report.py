"""The browser benchmark's figures: what each flavour measured, and the table of ratios
ours/stock with each target's PASS/FAIL."""

from __future__ import annotations

import argparse
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

from common import percentile


@dataclass
class Sample:
    """Everything measured for one flavour; (a) and (3) pooled over rounds, the rest per round."""

    shift_enter_ms: list[float] = field(default_factory=list)
    flushed_s: list[float] = field(default_factory=list)
    unflushed_s: list[float] = field(default_factory=list)
    open_s: list[float] = field(default_factory=list)
    open_first_cell_s: list[float] = field(default_factory=list)
    key_ms: list[float] = field(default_factory=list)
    flood_lines: list[int] = field(default_factory=list)


@dataclass
class Target:
    limit: float
    label: str
    absolute: bool = False  # the limit is on ours' own figure, not on the ratio


def med(values: Sequence[float]) -> float:
    known = [v for v in values if not math.isnan(v)]  # nan: a run that never finished
    return float(statistics.median(known)) if known else math.nan


def verdict(stock: float, ours: float, target: Target | None) -> str:
    if target is None:
        return ""
    value = ours if target.absolute else (ours / stock if stock else math.nan)
    if math.isnan(value):
        return ""
    return "PASS" if value <= target.limit else "FAIL"


def print_table(stock: Sample, ours: Sample, args: argparse.Namespace) -> None:
    rows: list[tuple[str, float, float, int, Target | None]] = [
        (
            "(a) Shift+Enter `1` -> [n] and result shown, p50 [ms]",
            percentile(stock.shift_enter_ms, 50),
            percentile(ours.shift_enter_ms, 50),
            1,
            Target(0.3, "<= 0.30x"),
        ),
        (
            "(a) same, p99 [ms]",
            percentile(stock.shift_enter_ms, 99),
            percentile(ours.shift_enter_ms, 99),
            1,
            Target(0.3, "<= 0.30x"),
        ),
        (
            f"(b) {args.flushed_lines:,} flushed lines: last line shown [s]",
            med(stock.flushed_s),
            med(ours.flushed_s),
            2,
            Target(1.0, "<= 1.00x"),
        ),
        (
            f"(b) {args.lines:,} unflushed lines: last line shown [s]",
            med(stock.unflushed_s),
            med(ours.unflushed_s),
            2,
            Target(1.0, "<= 1.00x"),
        ),
        (
            f"(c) open {args.cells} executed cells: every output shown [s]",
            med(stock.open_s),
            med(ours.open_s),
            2,
            Target(1.2, "<= 1.20x"),
        ),
        (
            "(c) same: first cell shown [s]",
            med(stock.open_first_cell_s),
            med(ours.open_first_cell_s),
            2,
            None,
        ),
        (
            "(3) keypress -> character shown during a flood, p50 [ms]",
            percentile(stock.key_ms, 50),
            percentile(ours.key_ms, 50),
            1,
            None,
        ),
        (
            "(3) same, p99 [ms]",
            percentile(stock.key_ms, 99),
            percentile(ours.key_ms, 99),
            1,
            Target(100.0, "ours <= 100 ms", absolute=True),
        ),
        (
            "(3) flood lines shown when the typing ended (median)",
            med(stock.flood_lines),
            med(ours.flood_lines),
            0,
            None,
        ),
    ]
    width = max(len(row[0]) for row in rows)
    header = f"{'metric':<{width}}  {'stock':>9}  {'ours':>9}  {'ours/stock':>10}  target"
    print(header)
    print("-" * (len(header) + 22))
    for label, s_val, o_val, digits, target in rows:
        ratio = o_val / s_val if s_val else math.nan
        tgt = f"{target.label:<16} {verdict(s_val, o_val, target)}" if target else ""
        print(
            f"{label:<{width}}  {s_val:>9.{digits}f}  {o_val:>9.{digits}f}  {ratio:>9.2f}x  {tgt}"
        )
    print(
        f"samples: (a) {len(stock.shift_enter_ms)} | {len(ours.shift_enter_ms)} runs, "
        f"(3) {len(stock.key_ms)} | {len(ours.key_ms)} keys (pooled over rounds); "
        "(b), (c): median of the rounds"
    )


def print_rounds(stock: Sample, ours: Sample) -> None:
    print("\nper round (stock | ours):")
    per = len(stock.shift_enter_ms) // max(1, len(stock.flushed_s))
    keys = len(stock.key_ms) // max(1, len(stock.flushed_s))
    for i in range(len(stock.flushed_s)):

        def p50(values: list[float], n: int, i: int = i) -> float:
            return percentile(values[i * n : (i + 1) * n], 50)

        print(
            f"  round {i + 1}: (a) p50 ms {p50(stock.shift_enter_ms, per):.1f} | "
            f"{p50(ours.shift_enter_ms, per):.1f}"
            f"  (b) s {stock.flushed_s[i]:.2f} | {ours.flushed_s[i]:.2f}, "
            f"{stock.unflushed_s[i]:.2f} | {ours.unflushed_s[i]:.2f}"
            f"  (c) s {stock.open_s[i]:.2f} | {ours.open_s[i]:.2f}"
            f"  (3) p50 ms {p50(stock.key_ms, keys):.1f} | {p50(ours.key_ms, keys):.1f}"
        )
