"""Learning-rate search per model x task x method on the validation split (a local grid):
every trial is a stored cell (it resumes like any other), the test split is never read by a
trial, and the choice is reported with its spread, an edge flag and what the search cost."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass

import pandas as pd

from bench.metrics import LOWER_IS_BETTER
from bench.spec import CellSpec
from bench.store import Store


def config_key(spec: CellSpec) -> str:
    """What a search chooses for: the cell without its seed, learning rate and trial flag."""
    return dataclasses.replace(spec, seed=0, lr=1.0, trial=False).cell_id


def parse_rates(text: str) -> tuple[list[float], bool]:
    """`1e-4,3e-4` (the same rates for every method) or `x0.3,x1,x3` (factors of each
    method's own rate); sorted, distinct, two or more, each > 0."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    relative = all(t.startswith("x") for t in items)
    if not relative and any(t.startswith("x") for t in items):
        raise ValueError(f"--search-lr {text}: give all rates (1e-4,...) or all factors (x1,...)")
    try:
        values = sorted({float(t.removeprefix("x")) for t in items})
    except ValueError:
        raise ValueError(f"--search-lr {text}: not numbers; e.g. 1e-4,1e-3 or x0.3,x1,x3") from None
    if len(values) < 2 or min(values) <= 0:
        raise ValueError(f"--search-lr {text}: give two or more rates (or factors), each > 0")
    return values, relative


def _scaled(lr: float, factor: float) -> float:
    return float(f"{lr * factor:.6g}")  # 1e-4 * 3 is 3e-4, not 0.00030000000000000003


def trial_cells(
    cells: list[CellSpec], lrs: list[float], seeds: int, relative: bool = False
) -> list[CellSpec]:
    """For each distinct configuration among `cells`, one trial per learning rate and seed
    (with `relative`, `lrs` are factors of the configuration's own rate)."""
    seen: dict[str, CellSpec] = {}
    for spec in cells:
        seen.setdefault(config_key(spec), spec)
    return [
        dataclasses.replace(
            spec, seed=seed, lr=_scaled(spec.lr, lr) if relative else lr, trial=True
        )
        for spec in seen.values()
        for lr in lrs
        for seed in range(seeds)
    ]


@dataclass(frozen=True)
class Choice:
    """The learning rate a search chose for one configuration, and what backs it."""

    label: str
    metric: str
    lr: float
    scores: dict[float, float]  # mean validation metric per learning rate
    spread: float  # best minus worst mean: how much the learning rate mattered
    at_edge: bool  # the best is the smallest or largest rate tried: widen the grid
    trials: int
    failed: int
    cost_s: float  # wall seconds of all trials together


def choose(store: Store, trials: list[CellSpec]) -> dict[str, Choice]:
    """The best learning rate of each configuration by its mean validation metric."""
    by_key: dict[str, list[CellSpec]] = {}
    for spec in trials:
        by_key.setdefault(config_key(spec), []).append(spec)
    out = {}
    for key, specs in by_key.items():
        records = {s.cell_id: store.get(s.cell_id) for s in specs}
        ok = [
            (s, records[s.cell_id])
            for s in specs
            if (records[s.cell_id] or {}).get("status") == "ok"
        ]
        if not ok:
            continue
        metric = ok[0][1]["result"]["primary_metric"]
        values: dict[float, list[float]] = {}
        for spec, rec in ok:
            values.setdefault(spec.lr, []).append(rec["result"]["metrics"][metric])
        scores = {lr: statistics.fmean(v) for lr, v in sorted(values.items())}
        pick = min if metric in LOWER_IS_BETTER else max
        best = pick(scores, key=scores.__getitem__)
        grid = sorted({s.lr for s in specs})
        first = specs[0]
        out[key] = Choice(
            label=f"{first.model} / {first.task} / {first.method}",
            metric=metric,
            lr=best,
            scores=scores,
            spread=max(scores.values()) - min(scores.values()),
            at_edge=best in (grid[0], grid[-1]),
            trials=len(specs),
            failed=len(specs) - len(ok),
            cost_s=sum(float(rec.get("wall_s") or 0.0) for rec in records.values() if rec),
        )
    return out


def final_cells(cells: list[CellSpec], choices: dict[str, Choice]) -> list[CellSpec]:
    """The cells at their configuration's chosen learning rate (unchanged where none)."""
    return [
        dataclasses.replace(spec, lr=choices[config_key(spec)].lr)
        if config_key(spec) in choices
        else spec
        for spec in cells
    ]


def choice_table(choices: dict[str, Choice]) -> pd.DataFrame:
    """One row per configuration: the chosen rate, the validation metric per rate, the edge
    flag and the search's cost."""
    rows = []
    for choice in choices.values():
        rows.append(
            {
                "model / task / method": choice.label,
                "chosen lr": f"{choice.lr:g}",
                f"validation {choice.metric} by lr": ", ".join(
                    f"{lr:g}: {v:.4f}" for lr, v in choice.scores.items()
                ),
                "spread": f"{choice.spread:.4f}",
                "at grid edge": "yes: widen the grid" if choice.at_edge else "no",
                "trials (failed)": f"{choice.trials} ({choice.failed})",
                "search cost": f"{choice.cost_s / 3600:.3f} h",
            }
        )
    return pd.DataFrame(rows)
