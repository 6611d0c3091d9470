#!/usr/bin/env python
"""What the page does per Shift+Enter on `1`, Variables panel closed vs open (variables_browser.py's
states): a figure that stays readable on a loaded machine, where the round trip's ratio does not.

Per state, after warm-up runs, `--runs` timed runs with Chromium's sampling Profiler on (over CDP)
and a trace of the page's main thread. It prints (a) our code's inclusive main-thread ms per run:
samples whose stack holds a frame of this extension's bundle, attributed to the deepest such frame
(the slot or helper that did the work, DOM calls included); (b) the main thread's script / style /
layout / paint ms inside the timed windows (keydown to the frame showing the result; script
events nest, so that figure is an upper bound).

    PYTHONPATH=. .venv/bin/python benchmarks/variables_profile.py [--runs N] [--states A,B]
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import variables_browser as vb
from browser import timed_run
from browser_lab import Lab, add_page_options, key_time, write_notebook
from common import print_header, run_bounded
from playwright.async_api import async_playwright

BUNDLE = "jupyter-sidecar-ext"
CATEGORIES = ["devtools.timeline", "disabled-by-default-devtools.timeline", "blink.user_timing"]
KINDS = {
    "FunctionCall": "script",
    "EventDispatch": "script",
    "TimerFire": "script",
    "FireAnimationFrame": "script",
    "UpdateLayoutTree": "style",
    "Layout": "layout",
    "Paint": "paint",
    "PrePaint": "paint",
    "Layerize": "paint",
}
# A mark in the trace and its performance.now(): the offset between the two clocks.
SYNC = "() => performance.mark('sync').startTime"


def our_code_ms(profile: dict[str, Any]) -> collections.Counter[str]:
    """Sampled ms per deepest frame of our bundle on the sample's stack."""
    nodes = {node["id"]: node for node in profile["nodes"]}
    parent = {child: node["id"] for node in profile["nodes"] for child in node.get("children", [])}
    owner: dict[int, str | None] = {}

    def ours(node_id: int) -> str | None:
        chain: list[int] = []
        found: str | None = None
        current: int | None = node_id
        while current is not None and current not in owner:
            chain.append(current)
            frame = nodes[current]["callFrame"]
            if BUNDLE in frame["url"]:
                name = frame["functionName"] or "(anonymous)"
                found = f"{name} {frame['url'].rsplit('/', 1)[-1][:8]}:{frame['columnNumber']}"
                break
            current = parent.get(current)
        if found is None and current is not None:
            found = owner[current]
        for visited in chain:
            owner[visited] = found
        return found

    spent: collections.Counter[str] = collections.Counter()
    deltas = [*profile["timeDeltas"][1:], 0]
    for sample, delta in zip(profile["samples"], deltas, strict=True):
        name = ours(sample)
        if name:
            spent[name] += delta / 1000
    return spent


def window_ms(events: list[dict[str, Any]], windows: list[tuple[float, float]]) -> dict[str, float]:
    """Main-thread ms per kind inside the windows (trace ms), summed over them."""
    tasks = collections.Counter((e["pid"], e["tid"]) for e in events if e.get("name") == "RunTask")
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"
    }
    main = max(mains, key=lambda key: tasks.get(key, 0))
    spent: collections.Counter[str] = collections.Counter()
    for event in events:
        kind = KINDS.get(event.get("name", ""))
        if not kind or (event["pid"], event["tid"]) != main or "dur" not in event:
            continue
        start, end = event["ts"] / 1000, (event["ts"] + event["dur"]) / 1000
        for low, high in windows:
            if start < high and end > low:
                spent[kind] += min(high, end) - max(low, start)
    return dict(spent)


async def run(args: argparse.Namespace, base: Path) -> int:
    print_header("variables in the browser: the page's work per tiny cell, by panel state")
    lab = Lab(base, "ours", True, True, [])
    try:
        await lab.start(args.start_timeout)
        write_notebook(lab.root / vb.NOTEBOOK, ["1", vb.SETUP_CODE])
        async with async_playwright() as pw:
            page = await vb.open_page(pw, lab, args)
            browser = page.context.browser
            assert browser is not None
            await vb.run_setup(page, args)
            cdp = await page.context.new_cdp_session(page)
            await cdp.send("Profiler.enable")
            await cdp.send("Profiler.setSamplingInterval", {"interval": 200})
            for state in args.states.split(","):
                await vb.set_state(page, state, args.timeout)
                for _ in range(args.warmup):
                    await timed_run(page, vb.TINY, "done", args, output="1")
                await browser.start_tracing(page=page, categories=CATEGORIES)
                synced = await page.evaluate(SYNC)
                await cdp.send("Profiler.start")
                windows = []
                for _ in range(args.runs):
                    await timed_run(page, vb.TINY, "done", args, output="1")
                    result = await page.evaluate("() => window.__bench.result")
                    windows.append((key_time(result, "Enter"), float(result["at"])))
                profile = (await cdp.send("Profiler.stop"))["profile"]
                events = json.loads(await browser.stop_tracing())["traceEvents"]
                mark = next(e for e in events if e.get("name") == "sync")
                offset = mark["ts"] / 1000 - synced
                shifted = [(low + offset, high + offset) for low, high in windows]
                report(state, args.runs, windows, our_code_ms(profile), window_ms(events, shifted))
            await browser.close()
    finally:
        await lab.stop()
    return 0


def report(
    state: str,
    runs: int,
    windows: list[tuple[float, float]],
    ours: collections.Counter[str],
    inside: dict[str, float],
) -> None:
    took = sorted(high - low for low, high in windows)
    print(f"\n{state}: round trip p50 {took[len(took) // 2]:.1f} ms over {runs} runs")
    print(
        "  in the windows, ms/run: " + "  ".join(f"{k} {v / runs:.2f}" for k, v in inside.items())
    )
    print(f"  our code, ms/run: {sum(ours.values()) / runs:.3f}")
    for name, ms in ours.most_common(10):
        print(f"    {ms / runs:6.3f}  {name}")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=25, help="profiled runs per state (25)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per state (3)")
    parser.add_argument(
        "--states", default="closed,panel,closed,panel", help="states in order (comma-separated)"
    )
    add_page_options(parser, big_timeout=300.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_bounded("variables_profile_", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
