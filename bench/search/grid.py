"""Search per model x task x method on the validation split, over the learning rate and
optionally the method's key setting (its declared `search`), as a local grid thinned to a
budget: every trial is a stored cell (it resumes like any other), the test split is never read by a
trial, and the choice is reported with its spread, edge flags and what the search cost."""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.core.registry import METHODS
from bench.core.spec import CellSpec, freeze_settings
from bench.core.status import Status
from bench.evaluate.metrics import LOWER_IS_BETTER
from bench.store.cell_store import Store


def searched_key(spec: CellSpec, with_key: bool) -> str | None:
    """The setting a search over `spec`'s method varies besides the rate (None: only the rate)."""
    found = METHODS.get(spec.method).search if with_key else None
    return found[0] if found else None


def config_key(spec: CellSpec, with_key: bool = False) -> str:
    """What a search chooses for: the cell without its seed, learning rate and trial flag
    (and, `with_key`, without the method's key setting)."""
    key = searched_key(spec, with_key)
    settings = tuple((k, v) for k, v in spec.settings if k != key)
    # evaluations without early stopping change nothing in training (ASHA adds them to trials)
    every = spec.eval_every if spec.early_stopping else None
    return dataclasses.replace(
        spec, seed=0, lr=1.0, trial=False, settings=settings, eval_every=every
    ).cell_id


def _with_setting(spec: CellSpec, key: str | None, value: Any) -> CellSpec:
    if key is None:
        return spec
    return dataclasses.replace(spec, settings=freeze_settings({**spec.settings_dict(), key: value}))


def thin(points: list[Any], budget: int | None) -> list[Any]:
    """At most `budget` of the points, evenly spaced through them (the ends kept)."""
    if budget is None or budget >= len(points):
        return points
    if budget == 1:
        return [points[len(points) // 2]]
    picks = sorted({round(i * (len(points) - 1) / (budget - 1)) for i in range(budget)})
    return [points[i] for i in picks]


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
    cells: list[CellSpec],
    lrs: list[float],
    seeds: int,
    relative: bool = False,
    with_key: bool = False,
    budget: int | None = None,
) -> list[CellSpec]:
    """For each distinct configuration among `cells`, one trial per point and seed: the
    learning rates (with `relative`, factors of the configuration's own rate) times, with
    `with_key`, the values of the method's key setting; `budget` thins the points to at most
    that many per configuration."""
    seen: dict[str, CellSpec] = {}
    for spec in cells:
        seen.setdefault(config_key(spec, with_key), spec)
    out = []
    for spec in seen.values():
        key = searched_key(spec, with_key)
        values = METHODS.get(spec.method).search[1] if key else (None,)
        rates = [_scaled(spec.lr, lr) if relative else lr for lr in lrs]
        for lr, value in thin([(lr, v) for lr in rates for v in values], budget):
            point = _with_setting(dataclasses.replace(spec, lr=lr, trial=True), key, value)
            out += [dataclasses.replace(point, seed=seed) for seed in range(seeds)]
    return out


@dataclass(frozen=True)
class Choice:
    """The learning rate a search chose for one configuration, and what backs it."""

    label: str
    metric: str
    lr: float
    scores: dict[tuple[float, Any], float]  # mean validation metric per (rate, key value)
    spread: float  # best minus worst mean: how much the choice mattered
    at_edge: bool  # the best rate is the smallest or largest tried: widen the grid
    trials: int
    failed: int
    cost_s: float  # wall seconds of all trials together
    pruned: int = 0  # trials ASHA ended early
    key: str | None = None  # the key setting searched, and its chosen value
    value: Any = None
    value_at_edge: bool = False  # the chosen value is the smallest or largest tried
    seeds_per_point: int = 1  # the fewest seeds any point's mean rests on
    runner_up_gap: float | None = None  # best mean minus the next best (None: one point)
    noise: float | None = None  # the sd of a difference of two points' means (2+ seeds)

    def within_noise(self) -> str:
        """Why the choice may be chance ('' when its gap clears twice the seed noise)."""
        if self.runner_up_gap is None:
            return ""
        if self.noise is None:
            return f"1 seed per point: the gap of {self.runner_up_gap:.4f} has no noise estimate"
        if self.runner_up_gap < 2 * self.noise:
            return f"gap {self.runner_up_gap:.4f} < 2 x seed noise ({self.noise:.4f})"
        return ""


def choose(store: Store, trials: list[CellSpec], with_key: bool = False) -> dict[str, Choice]:
    """The best point of each configuration by its mean validation metric."""
    by_key: dict[str, list[CellSpec]] = {}
    for spec in trials:
        by_key.setdefault(config_key(spec, with_key), []).append(spec)
    out = {}
    for group, specs in by_key.items():
        key = searched_key(specs[0], with_key)
        records = {s.cell_id: store.get(s.cell_id) for s in specs}
        ok = [
            (s, records[s.cell_id])
            for s in specs
            if (records[s.cell_id] or {}).get("status") == Status.OK
        ]
        pruned = sum((r or {}).get("status") == Status.PRUNED for r in records.values())
        if not ok:
            continue
        metric = ok[0][1]["result"]["primary_metric"]
        values: dict[tuple[float, Any], list[float]] = {}
        for spec, rec in ok:
            point = (spec.lr, spec.settings_dict().get(key) if key else None)
            values.setdefault(point, []).append(rec["result"]["metrics"][metric])
        scores = {p: statistics.fmean(v) for p, v in sorted(values.items(), key=str)}
        pick = min if metric in LOWER_IS_BETTER else max
        best = pick(scores, key=scores.__getitem__)
        rates = sorted({s.lr for s in specs})
        tried = sorted({s.settings_dict().get(key) for s in specs}) if key else []
        first = specs[0]
        ranked = sorted(scores.values(), reverse=pick is max)
        spreads = [statistics.stdev(v) for v in values.values() if len(v) > 1]
        fewest = min(len(v) for v in values.values())
        noise = statistics.fmean(spreads) * (2 / fewest) ** 0.5 if spreads and fewest > 1 else None
        out[group] = Choice(
            label=f"{first.model} / {first.task} / {first.method}",
            metric=metric,
            lr=best[0],
            scores=scores,
            spread=max(scores.values()) - min(scores.values()),
            at_edge=best[0] in (rates[0], rates[-1]),
            trials=len(specs),
            failed=len(specs) - len(ok) - pruned,
            pruned=pruned,
            cost_s=sum(float(rec.get("wall_s") or 0.0) for rec in records.values() if rec),
            key=key,
            value=best[1],
            value_at_edge=bool(tried) and len(tried) > 1 and best[1] in (tried[0], tried[-1]),
            seeds_per_point=fewest,
            runner_up_gap=abs(ranked[0] - ranked[1]) if len(ranked) > 1 else None,
            noise=noise,
        )
    return out


def _numeric_first(point: tuple[float, Any]) -> tuple[float, str]:
    """Points by rate as a number (not as text: 3e-05 before 0.0001), then the key value."""
    lr, value = point
    return (lr, f"{value:020.6f}" if isinstance(value, int | float) else str(value))


def final_cells(
    cells: list[CellSpec], choices: dict[str, Choice], with_key: bool = False
) -> list[CellSpec]:
    """The cells at their configuration's chosen point (unchanged where none)."""
    out = []
    for spec in cells:
        choice = choices.get(config_key(spec, with_key))
        if choice is None:
            out.append(spec)
            continue
        out.append(_with_setting(dataclasses.replace(spec, lr=choice.lr), choice.key, choice.value))
    return out


def _point(lr: float, key: str | None, value: Any) -> str:
    return f"{lr:g}" + (f", {key}={value}" if key else "")


def choice_table(choices: dict[str, Choice]) -> pd.DataFrame:
    """One row per configuration: the chosen point, the validation metric per point, the edge
    flags and the search's cost."""
    rows = []
    for choice in choices.values():
        edges = (["the rate"] if choice.at_edge else []) + (
            [choice.key] if choice.value_at_edge else []
        )
        rows.append(
            {
                "model / task / method": choice.label,
                "chosen lr" + (" and setting" if choice.key else ""): _point(
                    choice.lr, choice.key, choice.value
                ),
                "metric": choice.metric,
                "validation score by point": "; ".join(
                    f"{_point(lr, choice.key, v)}: {choice.scores[(lr, v)]:.4f}"
                    for lr, v in sorted(choice.scores, key=_numeric_first)
                ),
                "spread": f"{choice.spread:.4f}",
                "seeds per point": choice.seeds_per_point,
                "choice within noise?": choice.within_noise() or "no",
                "at grid edge": f"yes ({', '.join(edges)}): widen the grid" if edges else "no",
                "trials (failed, pruned)": f"{choice.trials} ({choice.failed}, {choice.pruned})",
                "search cost": f"{choice.cost_s / 3600:.3f} h",
            }
        )
    return pd.DataFrame(rows)
