#!/usr/bin/env python
"""What a user sees in JupyterLab: stock JupyterLab against JupyterLab + jupyter_sidecar_ext.

Starts two `jupyter lab` servers from this venv side by side (stock: our server extension and
labextension both disabled), opens the same notebook in each in headless Chromium (Playwright)
and times, in interleaved rounds with alternating order, what the page shows:

  (a) Shift+Enter on `1` until the prompt shows `[n]:` and the result `1`
  (b) Shift+Enter on a cell printing N flushed lines / M unflushed lines until the last shows
  (c) opening a notebook of executed cells until every output shows (ours: restored from the
      server's record, the file has none; stock: loaded from the file, saved with them)
  (3) while a cell floods output, a keypress in another cell's editor until the character shows

Run from the repository root (see benchmarks/README.md):

    PYTHONPATH=. .venv/bin/python benchmarks/browser.py [--quick] [--rounds N] [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import secrets
import shlex
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from browser_lab import (
    CHROMIUM_ARGS,
    FLOOD,
    FLUSHED,
    PAGE_SCRIPT,
    TINY,
    TYPING,
    UNFLUSHED,
    Lab,
    NotShown,
    add_page_options,
    arm,
    bench_sources,
    command,
    key_time,
    numbered_lines,
    page_flavour,
    restore_sources,
    saved_outputs,
    shown,
    shown_while_growing,
    wait_check,
    write_notebook,
)
from browser_report import Sample, print_rounds, print_table
from common import machine_info, run_bounded
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

BENCH_NB = "bench.ipynb"
RESTORE_NB = "restore.ipynb"
KEYS = "abcdefghijklmnopqrstuvwxyz"
# Server log lines expected in every run (our own probe, defaults, untrusted new notebooks).
BENIGN_LOG = (
    "404 GET /api/sidecar ",
    "websocket_ping_timeout",
    "received signal 15, stopping",
    "is not trusted",
)


@dataclass
class Side:
    name: str
    lab: Lab
    context: BrowserContext
    page: Page
    sample: Sample = field(default_factory=Sample)

    @property
    def ours(self) -> bool:
        return self.lab.extension


async def open_notebook(side: Side, page: Page, path: str, timeout: float) -> None:
    """Open `path` in a new workspace; wait for its kernel (idle) and the page's flavour."""
    await page.goto(side.lab.url(path, f"bench-{secrets.token_hex(4)}"))
    await page.locator(".jp-NotebookPanel .jp-CodeCell").first.wait_for(timeout=timeout * 1000)
    status = page.locator("#jp-main-statusbar").get_by_text("| Idle")
    await status.wait_for(timeout=timeout * 1000)
    await page_flavour(page, side.ours, timeout)


async def click_editor(page: Page, index: int) -> None:
    await (
        page.locator(".jp-NotebookPanel .jp-CodeCell")
        .nth(index)
        .locator(".jp-InputArea-editor")
        .click()
    )


async def clear_cell(page: Page, index: int, timeout: float) -> None:
    """Make `index` the active cell and clear its output and prompt (not timed)."""
    await click_editor(page, index)
    await command(page, "notebook:clear-cell-output")
    await wait_check(page, "cleared", timeout, index=index)


async def timed_run(
    page: Page, index: int, check: str, args: argparse.Namespace, **check_args: object
) -> float:
    """Shift+Enter in cell `index` (cleared first): ms from the Enter keydown until the
    first frame where `check` holds; a lines check waits as long as lines keep coming."""
    await clear_cell(page, index, args.timeout)
    await arm(page, check, index=index, **check_args)
    await page.keyboard.press("Shift+Enter")
    if check == "lastLine":
        result = await shown_while_growing(page, index, args.stall, args.big_timeout)
    else:
        result = await shown(page, args.timeout)
    return float(result["at"]) - key_time(result, "Enter")


async def reopen(side: Side, args: argparse.Namespace) -> None:
    """A new page on the benchmark notebook (after a stalled one), its outputs cleared."""
    await side.page.close()
    side.page = await side.context.new_page()
    await open_notebook(side, side.page, BENCH_NB, args.big_timeout)
    await command(side.page, "notebook:clear-all-cell-outputs")


async def bench_shift_enter(side: Side, args: argparse.Namespace, problems: list[str]) -> None:
    for run in range(args.warmup + args.runs):
        ms = await timed_run(side.page, TINY, "done", args, output="1")
        if run >= args.warmup:
            side.sample.shift_enter_ms.append(ms)


async def bench_output(side: Side, args: argparse.Namespace, problems: list[str]) -> None:
    page = side.page
    for index, count, into in (
        (FLUSHED, args.flushed_lines, side.sample.flushed_s),
        (UNFLUSHED, args.lines, side.sample.unflushed_s),
    ):
        try:
            ms = await timed_run(page, index, "lastLine", args, last=str(count - 1))
        except NotShown as err:
            problems.append(f"(b) {side.name}: the last of {count} lines never showed: {err}")
            into.append(math.nan)
            await reopen(side, args)
            page = side.page
            continue
        into.append(ms / 1000)
        await wait_check(page, "finished", args.big_timeout, index=index)
        found = await numbered_lines(page, index)
        if found["count"] != count or found["firstBad"] != -1:
            problems.append(
                f"(b) {side.name}: cell {index} shows {found['count']} lines, expected {count}; "
                f"first wrong line {found['firstBad']}: {found['badText']!r}"
            )
    await command(page, "notebook:clear-all-cell-outputs")


async def bench_typing(side: Side, args: argparse.Namespace, problems: list[str]) -> None:
    """Type `--keys` characters into the TYPING cell while the page takes in the FLOOD cell's
    flushed lines; each keypress is timed until its character shows in the editor."""
    page, flood = side.page, args.flood_lines
    await clear_cell(page, FLOOD, args.timeout)
    await page.keyboard.press("Shift+Enter")
    await wait_check(page, "running", args.timeout, index=FLOOD)
    await click_editor(page, TYPING)
    typed = ""
    for n in range(args.keys):
        key = KEYS[n % len(KEYS)]
        await arm(page, "editorHas", index=TYPING, typed=typed + key)
        await page.keyboard.press(key)
        result = await shown(page, args.timeout)
        typed += key
        side.sample.key_ms.append(float(result["at"]) - key_time(result, key))
        await asyncio.sleep(args.key_interval)  # typing pace, not a wait for anything
    shown_then = int((await numbered_lines(page, FLOOD))["count"])
    side.sample.flood_lines.append(shown_then)
    if shown_then >= flood:
        problems.append(
            f"(3) {side.name}: the page showed all {flood:,} flood lines before the typing "
            "ended (raise --flood-lines)"
        )
    try:
        await arm(page, "lastLine", index=FLOOD, last=str(flood - 1))
        await shown_while_growing(page, FLOOD, args.stall, args.big_timeout)
    except NotShown as err:
        problems.append(f"(3) {side.name}: the last of {flood} flood lines never showed: {err}")
        await reopen(side, args)
        return
    found = await numbered_lines(page, FLOOD)
    if found["count"] != flood or found["firstBad"] != -1:
        problems.append(
            f"(3) {side.name}: the flood cell shows {found['count']} lines, expected {flood}; "
            f"first wrong line {found['firstBad']}: {found['badText']!r}"
        )
    await click_editor(page, TYPING)
    await page.keyboard.press("Control+a")
    await page.keyboard.press("Backspace")
    await wait_check(page, "editorHas", args.timeout, index=TYPING, typed="")
    await wait_check(page, "finished", args.big_timeout, index=FLOOD)
    await command(page, "notebook:clear-all-cell-outputs")


async def prepare_restore(side: Side, args: argparse.Namespace) -> None:
    """Run every cell of the restore notebook in this server's kernel. Stock saves them into
    the file; ours does not (autosave is off), so only the server's record has them."""
    page = await side.context.new_page()
    await open_notebook(side, page, RESTORE_NB, args.big_timeout)
    await arm(page, "allOutputs", count=args.cells)
    await command(page, "notebook:run-all-cells")
    await shown(page, args.big_timeout)
    path = side.lab.root / RESTORE_NB
    if not side.ours:
        await command(page, "docmanager:save")
        for _ in range(int(args.timeout * 10)):
            if saved_outputs(path) == args.cells:
                break
            await asyncio.sleep(0.1)  # polling the file: nothing in the page says it is written
    await page.close()
    expected = 0 if side.ours else args.cells
    if saved_outputs(path) != expected:
        raise RuntimeError(
            f"{side.name}: {RESTORE_NB} has {saved_outputs(path)} cells with "
            f"outputs on disk, expected {expected}"
        )


async def bench_open(side: Side, args: argparse.Namespace, problems: list[str]) -> None:
    """Open the restore notebook in a new page: seconds from navigation start (the page's
    time origin) until the first frame showing every cell's output."""
    page = await side.context.new_page()
    try:
        url = side.lab.url(RESTORE_NB, f"open-{secrets.token_hex(4)}")
        await page.goto(url, wait_until="commit")
        await arm(page, "allOutputs", count=args.cells)
        result = await shown(page, args.big_timeout)
        side.sample.open_s.append(float(result["at"]) / 1000)
        side.sample.open_first_cell_s.append(float(result["marks"]["firstCell"]) / 1000)
    finally:
        await page.close()


async def open_side(
    browser: Browser,
    lab: Lab,
    args: argparse.Namespace,
    path: str = BENCH_NB,
    width: int = 1280,
) -> Side:
    """A page of its own (timing script installed) with the notebook `path` open."""
    context = await browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(args.timeout * 1000)
    await context.add_init_script(script=PAGE_SCRIPT)
    page = await context.new_page()
    side = Side(lab.name, lab, context, page)
    await open_notebook(side, page, path, args.big_timeout)
    return side


Bench = Callable[[Side, argparse.Namespace, list[str]], Awaitable[None]]


async def run_rounds(sides: Sequence[Side], args: argparse.Namespace, problems: list[str]) -> None:
    """Each bench on both sides back to back; who goes first alternates from round to round."""
    for side in sides:
        await prepare_restore(side, args)
    benches: list[Bench] = [bench_shift_enter, bench_output, bench_typing, bench_open]
    for rnd in range(args.rounds):
        order = sides if rnd % 2 == 0 else sides[::-1]
        for bench in benches:
            for side in order:
                await side.page.bring_to_front()
                await bench(side, args, problems)
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"round {rnd + 1}/{args.rounds} done (loadavg {load})", flush=True)


async def run(args: argparse.Namespace, base: Path) -> int:
    print("== browser: stock JupyterLab vs JupyterLab + jupyter_sidecar_ext (headless Chromium) ==")
    print("command: " + shlex.join([sys.executable, *sys.argv]))
    print("PYTHONPATH=" + os.environ.get("PYTHONPATH", ""))
    for line in machine_info():
        print(line)
    print(f"versions: jupyterlab {version('jupyterlab')}, playwright {version('playwright')}")
    labs = [
        Lab(base, "stock", False, not args.keep_rate_limits, config_args(args.stock_config)),
        Lab(base, "ours", True, not args.keep_rate_limits, config_args(args.ours_config)),
    ]
    for lab in labs:
        print(f"{lab.name}: {lab.printable_command()}")
    print(
        f"workload: rounds={args.rounds} (order alternates), (a) {args.runs} runs + "
        f"{args.warmup} warm-up, (b) {args.flushed_lines:,} flushed / {args.lines:,} unflushed "
        f"lines, (c) {args.cells} cells, (3) {args.keys} keys during {args.flood_lines:,} "
        "flushed lines; rate limits "
        f"{'kept' if args.keep_rate_limits else 'off on both'}",
        flush=True,
    )
    problems: list[str] = []
    ok = False
    try:
        await asyncio.gather(*(lab.start(args.start_timeout) for lab in labs))
        codes = [await lab.status_of("/api/sidecar") for lab in labs]
        print(f"GET /api/sidecar: stock {codes[0]}, ours {codes[1]}")
        if codes != [404, 200]:
            raise RuntimeError(f"GET /api/sidecar should be 404 on stock, 200 on ours: {codes}")
        sources = bench_sources(args.flushed_lines, args.lines, args.flood_lines)
        for lab in labs:
            write_notebook(lab.root / BENCH_NB, sources)
            write_notebook(lab.root / RESTORE_NB, restore_sources(args.cells))
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(
                executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS
            )
            print(f"chromium {browser.version}", flush=True)
            sides = [await open_side(browser, lab, args) for lab in labs]
            print("pages: stock without our plugins (labextension disabled), ours with them")
            try:
                await run_rounds(sides, args, problems)
            except Exception:
                for side in sides:  # what each page showed when it went wrong
                    await side.page.screenshot(path=base / f"{side.name}.png", full_page=True)
                raise
            await browser.close()
        print(f"loadavg at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
        print_table(sides[0].sample, sides[1].sample, args)
        print_rounds(sides[0].sample, sides[1].sample)
        ok = True
    finally:
        await asyncio.gather(*(lab.stop() for lab in labs), return_exceptions=True)
        for lab in labs:
            found = lab.log_problems(BENIGN_LOG)
            if found:
                print(f"\n{lab.name} server log: {len(found)} warning/error lines:")
                for line in found[:12]:
                    print("  " + line[:300])
        if not ok:
            args.keep = True
            for lab in labs:
                print(f"\n{lab.name} server log tail ({lab.log_path}):\n{lab.log_tail(25)}")
    if problems:
        print("\nPROBLEMS:")
        for problem in problems:
            print("  - " + problem)
        return 1
    print("\nevery line and output was shown on both")
    return 0


# -- command line -----------------------------------------------------------------------------


def config_args(pairs: Sequence[str]) -> list[str]:
    out = []
    for pair in pairs:
        if "=" not in pair or "." not in pair.split("=", 1)[0]:
            raise SystemExit(f"--*-config expects Class.trait=value, got {pair!r}")
        out.append("--" + pair.removeprefix("--"))
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add = parser.add_argument
    add("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    add("--runs", type=int, default=100, help="(a) timed Shift+Enter runs per round (100)")
    add("--warmup", type=int, default=3, help="(a) untimed runs before each round's runs")
    add("--flushed-lines", type=int, default=10_000, help="(b) lines, flushed one by one")
    add("--lines", type=int, default=20_000, help="(b) lines printed without flushing")
    add("--cells", type=int, default=200, help="(c) executed cells in the opened notebook")
    add("--keys", type=int, default=50, help="(3) keys typed per round during the flood")
    add("--flood-lines", type=int, default=100_000, help="(3) flushed lines of the flood cell")
    add("--key-interval", type=float, default=0.1, help="(3) pause after each key shows (s)")
    add("--quick", action="store_true", help="smoke run: 1 round, 5 runs, smaller cells")
    add("--keep-rate-limits", action="store_true", help="keep the servers' iopub rate limits")
    for flavour in ("ours", "stock"):
        add(
            f"--{flavour}-config",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help=f"extra traitlets config for the {flavour} server (repeatable)",
        )
    add_page_options(parser, big_timeout=600.0)
    args = parser.parse_args(argv)
    if args.quick:  # smaller figures for the options left at their defaults
        quick = {"rounds": 1, "runs": 5, "warmup": 1, "flushed_lines": 2000, "lines": 5000}
        quick |= {"cells": 50, "keys": 10, "flood_lines": 20_000}
        for name, value in quick.items():
            if getattr(args, name) == parser.get_default(name):
                setattr(args, name, value)
    counts = (args.rounds, args.runs, args.flushed_lines, args.lines, args.cells, args.keys)
    counts += (args.flood_lines,)
    if min(counts) < 1 or args.warmup < 0:
        parser.error("counts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    return run_bounded("browser_bench_", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
