#!/usr/bin/env python
"""The page's composited layers in each of variables_browser.py's states, with Chromium's reasons
(CDP LayerTree): every frame of the page (a cell's prompt and result included) runs overlap tests
over them, so a layer the Variables panel or a Data Viewer adds costs every frame while it is
shown, not only when it changes. A count, not a time: it does not move with the machine's load.

    PYTHONPATH=. .venv/bin/python benchmarks/variables_layers.py [--states closed,panel,grid]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import variables_browser as vb
from browser import timed_run
from browser_lab import Lab, add_page_options, write_notebook
from common import print_header, run_bounded
from playwright.async_api import CDPSession, async_playwright


async def describe(cdp: CDPSession, layer: dict[str, Any]) -> str:
    """`WxH reasons element.class` of one layer."""
    reasons = await cdp.send("LayerTree.compositingReasons", {"layerId": layer["layerId"]})
    node = ""
    if layer.get("backendNodeId"):
        found = await cdp.send("DOM.describeNode", {"backendNodeId": layer["backendNodeId"]})
        attributes = found["node"].get("attributes", [])
        classes = dict(zip(attributes[::2], attributes[1::2], strict=True)).get("class", "")
        node = f"{found['node']['nodeName'].lower()} {classes[:60]}"
    size = f"{layer['width']}x{layer['height']}"
    return f"{size:>10} {','.join(reasons.get('compositingReasonIds', [])):<28} {node}"


async def run(args: argparse.Namespace, base: Path) -> int:
    print_header("variables in the browser: composited layers per state")
    lab = Lab(base, "ours", True, True, [])
    try:
        await lab.start(args.start_timeout)
        write_notebook(lab.root / vb.NOTEBOOK, ["1", vb.SETUP_CODE])
        async with async_playwright() as pw:
            page = await vb.open_page(pw, lab, args)
            await vb.run_setup(page, args)
            cdp = await page.context.new_cdp_session(page)
            changed = asyncio.Event()
            latest: list[list[dict[str, Any]]] = [[]]

            def on_change(params: dict[str, Any]) -> None:
                latest[0] = params.get("layers") or latest[0]
                changed.set()

            cdp.on("LayerTree.layerTreeDidChange", on_change)
            await cdp.send("DOM.enable")
            await cdp.send("LayerTree.enable")
            for state in args.states.split(","):
                await vb.set_state(page, state, args.timeout)
                changed.clear()
                await timed_run(page, vb.TINY, "done", args, output="1")
                await asyncio.wait_for(changed.wait(), args.timeout)
                layers = latest[0]
                print(f"\n{state}: {len(layers)} layers")
                for layer in layers:
                    print("  " + await describe(cdp, layer))
    finally:
        await lab.stop()
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--states", default="closed,panel,grid", help="states in order")
    add_page_options(parser, big_timeout=300.0)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    return run_bounded("variables_layers_", parse_args(argv), run)


if __name__ == "__main__":
    sys.exit(main())
