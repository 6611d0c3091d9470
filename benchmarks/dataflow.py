#!/usr/bin/env python
"""Dataflow benchmark: analysis time per cell and plan time for a 500-cell notebook.

Analysis (dataflow/analysis.py, IPython's input transformations + one ast walk) is timed per
cell, uncached, over a corpus of real code: every `#### input` cell of the lint corpus
(tests/lint/corpus: magics, shell escapes, odd syntax) plus notebook-sized chunks of real
modules (top-level statements of the Python files of an installed package, `--package`, cut
at 5..60 lines, as cells are). No .ipynb files come with this environment's site-packages,
so modules stand in for notebooks. Prints p50/p99/max per cell and by size.

Plans (dataflow/plan.py) are timed on a generated 500-cell notebook of realistic cells (loads,
transforms, plots, helpers, redefinitions): building the notebook's index (analysis cached, as
the server's LRU cache has it after the first plan) and an upstream and a downstream plan for
the last and the first cell. Target: < 20 ms for a 500-cell plan.

    PYTHONPATH=. .venv/bin/python benchmarks/dataflow.py [--package pandas] [--repeat 5]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import platform
import statistics
import sys
import time
from pathlib import Path

from common import percentile

from jupyter_sidecar_ext.dataflow.analysis import analyze
from jupyter_sidecar_ext.dataflow.graph import Execution, staleness
from jupyter_sidecar_ext.dataflow.plan import Notebook, PlanCell
from jupyter_sidecar_ext.dataflow.tracker import StaleTracker

ROOT = Path(__file__).resolve().parents[1]
TARGET_PLAN_MS = 20.0


def corpus_cells() -> list[str]:
    """The input cells of the lint corpus."""
    cells = []
    for path in sorted((ROOT / "tests" / "lint" / "corpus").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        if "#### input\n" in text:
            cells.append(text.split("#### input\n", 1)[1].split("\n#### ", 1)[0])
    return cells


def module_cells(package: str, limit: int) -> list[str]:
    """Chunks of 5..60 lines of top-level statements of a package's modules."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"package {package} not found")
    cells: list[str] = []
    for path in sorted(Path(next(iter(spec.submodule_search_locations))).rglob("*.py")):
        try:
            text = path.read_text(encoding="utf-8")
            body = ast.parse(text).body
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        lines = text.splitlines(keepends=True)
        chunk: list[str] = []
        for node in body:
            end = node.end_lineno or node.lineno
            chunk += lines[
                node.lineno
                - 1
                - (len(node.decorator_list) if hasattr(node, "decorator_list") else 0) : end
            ]
            if len(chunk) >= 5:
                cells.append("".join(chunk[:60]))
                chunk = []
            if len(cells) >= limit:
                return cells
    return cells


def realistic_notebook(count: int) -> list[PlanCell]:
    """`count` cells in the shape of an analysis notebook: imports, loads, cleaning steps that
    redefine `df`, helpers, features, plots, and reports reading several of them."""
    templates = [
        "import numpy as np\nimport pandas as pd\nfrom pathlib import Path",
        "df = pd.read_csv(DATA / 'part{i}.csv')\nprint(df.shape)",
        "df = df.dropna(subset=['a{i}'])\ndf['b{i}'] = df['a{i}'] * 2",
        "def helper{i}(frame, k=3):\n    return frame.rolling(k).mean() + offset{j}",
        "offset{i} = {i} * 0.5",
        "features{i} = helper{j}(df[['a{i}', 'b{i}']])\nstats{i} = features{i}.describe()",
        "%time model{i} = fit(features{i}, target=df['y'])",
        "fig, ax = plt.subplots()\nax.plot(features{i}.index, features{i}.values)\n"
        "ax.set_title(f'{{name}} {i}')",
        "results{i} = {{k: v for k, v in stats{j}.items() if v is not None}}\nresults{i}",
        "for col in df.columns:\n    if col.startswith('a'):\n"
        "        summary{i}[col] = df[col].sum()",
    ]
    cells = [PlanCell("c0", "DATA = Path('data')\nimport matplotlib.pyplot as plt\nsummary0 = {}")]
    for i in range(1, count):
        j = max(0, i - 7)
        source = templates[i % len(templates)].format(i=i, j=j)
        source = source.replace(f"summary{i}", "summary0")
        cells.append(PlanCell(f"c{i}", source))
    return cells


def time_analysis(cells: list[str], repeat: int) -> list[tuple[int, float]]:
    """(characters, best-of-`repeat` microseconds) per cell, the cache cleared each time."""
    timings = []
    for source in cells:
        best = float("inf")
        for _ in range(repeat):
            analyze.cache_clear()
            started = time.perf_counter()
            analyze(source)
            best = min(best, time.perf_counter() - started)
        timings.append((len(source), best * 1e6))
    return timings


def time_plans(cells: list[PlanCell], repeat: int) -> dict[str, float]:
    """Milliseconds (median over `repeat`) for the index and each plan, analysis cached."""
    Notebook(cells)  # fills the analysis cache, as the first plan of a notebook does
    figures: dict[str, list[float]] = {"index": [], "upstream": [], "downstream": [], "total": []}
    first, last = cells[0].id, cells[-1].id
    for _ in range(repeat):
        t0 = time.perf_counter()
        notebook = Notebook(cells)
        t1 = time.perf_counter()
        notebook.upstream(last, lambda cell_id: False)
        t2 = time.perf_counter()
        notebook.downstream(first)
        t3 = time.perf_counter()
        figures["index"].append((t1 - t0) * 1e3)
        figures["upstream"].append((t2 - t1) * 1e3)
        figures["downstream"].append((t3 - t2) * 1e3)
        figures["total"].append((t3 - t0) * 1e3)
    return {name: statistics.median(values) for name, values in figures.items()}


def time_per_execution(cells: list[PlanCell], repeat: int) -> dict[str, float]:
    """Microseconds of event-loop work one tiny execution adds after a history of `cells`
    (median over `repeat`): its analysis (uncached) and the tracker's update (tracker.py),
    next to the full recomputation (graph.staleness) the tracker avoids."""
    history = [
        Execution(cell.id, i + 1, cell.source, None, analyze(cell.source), seq=i + 1)
        for i, cell in enumerate(cells)
    ]
    tracker = StaleTracker.replay(history)
    figures: dict[str, list[float]] = {"analysis": [], "tracker": [], "full": []}
    for k in range(repeat):
        analyze.cache_clear()
        t0 = time.perf_counter()
        names = analyze("1")
        t1 = time.perf_counter()
        seq = len(history) + k + 1
        tracker.executed(Execution(f"tiny{k % 3}", seq, "1", None, names, seq=seq))
        t2 = time.perf_counter()
        staleness(history)
        t3 = time.perf_counter()
        for name, (start, end) in {
            "analysis": (t0, t1),
            "tracker": (t1, t2),
            "full": (t2, t3),
        }.items():
            figures[name].append((end - start) * 1e6)
    return {name: statistics.median(values) for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", default="IPython", help="modules to cut into cells")
    parser.add_argument("--max-cells", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--plan-cells", type=int, default=500)
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.node()}")
    cells = corpus_cells() + module_cells(args.package, args.max_cells)
    timings = time_analysis(cells, args.repeat)
    micros = [us for _, us in timings]
    print(
        f"\nanalysis, {len(cells)} cells (lint corpus + {args.package} chunks), best of "
        f"{args.repeat}, uncached:"
    )
    print(
        f"  p50 {percentile(micros, 50):8.1f} us   p99 {percentile(micros, 99):8.1f} us   "
        f"max {max(micros):8.1f} us"
    )
    for low, high in ((0, 200), (200, 1000), (1000, 3000), (3000, 10**9)):
        group = [us for chars, us in timings if low <= chars < high]
        if group:
            print(
                f"  {low:>5}..{high if high < 10**9 else '':<5} chars: {len(group):5} cells, "
                f"p50 {percentile(group, 50):8.1f} us, p99 {percentile(group, 99):8.1f} us"
            )
    notebook = realistic_notebook(args.plan_cells)
    plans = time_plans(notebook, max(args.repeat, 5))
    print(f"\nplan, {args.plan_cells}-cell notebook (analysis cached), median of runs:")
    for name, ms in plans.items():
        print(f"  {name:<10} {ms:8.2f} ms")
    verdict = "ok" if plans["total"] < TARGET_PLAN_MS else "OVER"
    print(f"  target: index + both plans < {TARGET_PLAN_MS:g} ms: {verdict}")
    per = time_per_execution(notebook, max(args.repeat, 5) * 4)
    print(f"\nper tiny execution, {args.plan_cells} executions of history, median:")
    print(f"  analysis of '1' (uncached)       {per['analysis']:8.1f} us")
    print(f"  staleness update (tracker)       {per['tracker']:8.1f} us")
    print(f"  (full recomputation, avoided)    {per['full']:8.1f} us")


if __name__ == "__main__":
    main()
