"""The regression gate: is a new method non-inferior to every baseline on every task?"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rich.console import Console

from bench.core.errors import UnknownName
from bench.core.registry import METHODS
from bench.core.status import Status
from bench.execute.runner import run_cells
from bench.plan.suites import SUITES, expand
from bench.report.cells_table import cells_frame
from bench.report.latency_gate import latency_rows, latency_table
from bench.stats import paired as stats
from bench.stats.compare import method_level_difference, seed_pairs
from bench.stats.method_level import noninferiority
from bench.store.cell_store import Store


@dataclass(frozen=True)
class GateRow:
    task: str
    model: str
    baseline: str
    result: stats.NonInferiority
    new_mean: float
    base_mean: float


def decide(
    frame: pd.DataFrame, store: Store, method: str, baselines: Sequence[str], margin: float
) -> list[GateRow]:
    """Non-inferiority of `method` against each baseline per task x model, method-level."""
    rows = []
    for (task, model), group in frame.groupby(["task", "model"], sort=False):
        for baseline in baselines:
            seeds, new, base = seed_pairs(group, method, baseline)
            difference = method_level_difference(store, group, method, baseline) if seeds else None
            result = (
                noninferiority(difference, margin)
                if difference is not None
                else stats.seed_noninferiority(new, base, margin)  # no per-example rows: by seed
            )
            rows.append(
                GateRow(
                    task,
                    model,
                    baseline,
                    result,
                    float(np.mean(new)) if seeds else float("nan"),
                    float(np.mean(base)) if seeds else float("nan"),
                )
            )
    return rows


def gate_table(rows: list[GateRow], method: str) -> str:
    table = pd.DataFrame(
        [
            {
                "task": r.task,
                "model": r.model,
                "baseline": r.baseline,
                "seeds": r.result.n,
                f"{method} mean": f"{r.new_mean:.4f}",
                "baseline mean": f"{r.base_mean:.4f}",
                "Δ": f"{r.result.estimate:+.4f}",
                "one-sided 95% lower bound": f"{r.result.low:+.4f}",
                "margin": f"-{r.result.margin:g}",
                "p": f"{r.result.pvalue:.3g}",
                "verdict": "non-inferior" if r.result.passed else "NOT non-inferior",
            }
            for r in rows
        ]
    )
    return table.to_markdown(index=False, disable_numparse=True)


def run_check(
    method: str,
    baselines: Sequence[str],
    margin: float,
    suite_name: str,
    store: Store,
    *,
    plugins: Sequence[str] = (),
    in_process: bool = False,
    device: str = "cpu",
    fresh: bool = False,
    console: Console | None = None,
    command: str | None = None,
    latency_budget: float | None = None,
) -> int:
    """Run (or reuse) the cells, print the deciding table; 0 if non-inferior everywhere (and,
    with `latency_budget`, served within that multiple of the base model's latency), else 1."""
    console = console or Console(stderr=True)
    method = METHODS.canonical(method)
    try:
        baselines = [METHODS.canonical(b) for b in baselines]
    except UnknownName as exc:
        raise ValueError(f"--baselines: {exc}") from None
    if method in baselines:
        raise ValueError(f"method {method!r} is also named as a baseline")
    suite = SUITES.get(suite_name)
    serving = {"inference": True} if latency_budget is not None else None
    cells = expand(suite, device, methods=[method, *baselines], budget=serving)
    if fresh:
        store.delete([c.cell_id for c in cells if c.method == method])
    run_cells(
        cells, store, plugins=plugins, in_process=in_process, console=console, command=command
    )
    frame = cells_frame(store.cells([c.cell_id for c in cells]))
    # one expansion's cells: the registry's names decide (labels carry tags such as serving's)
    frame["method"] = frame["method_name"]
    failed = frame[frame["status"] != Status.OK]
    rows = decide(frame, store, method, baselines, margin)
    print(
        f"Regression gate: {method} against {', '.join(baselines)} on suite {suite.name!r}, "
        f"margin {margin:g} (H0: the method-level difference {method} - baseline <= -margin; "
        "one-sided at alpha 0.05, paired by seed, seed-to-seed and test-set variance both "
        "counted)\n"
    )
    print(gate_table(rows, method))
    if len(failed):
        print("\nCells that did not finish (their seeds are left out):")
        print(failed[["method", "seed", "status", "error"]].to_markdown(index=False))
    passed = bool(rows) and all(r.result.passed for r in rows)
    if latency_budget is not None:
        timed = latency_rows(frame[frame["status"] == Status.OK], method, latency_budget)
        print(
            f"\nServing budget: {method}'s served model (merged where it merges) at batch 1, "
            f"at most {latency_budget:g} x the base model's latency, both timed side by side "
            "in each cell's inference stage; the median over seeds decides\n"
        )
        print(latency_table(timed))
        passed = passed and bool(timed) and all(r.passed for r in timed)
    print(f"\nverdict: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1
