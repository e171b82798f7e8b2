"""Each method against a baseline on one task x model: the method-level difference (seed and
test-set variance both counted, bench.stats.method_level), paired by seed."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.core.status import Status
from bench.evaluate.metrics import METRICS, PER_EXAMPLE
from bench.stats import paired as stats
from bench.stats.method_level import MethodDifference, method_difference, method_difference_metric
from bench.store.cell_store import Store

POWER = 0.8


@dataclass(frozen=True)
class Comparison:
    """One method against the baseline; the p-value is raw here, Holm-corrected by the caller."""

    method: str
    seeds: int
    result: MethodDifference


def _per_seed(frame: pd.DataFrame, method: str, by: str = "method") -> dict[int, pd.Series]:
    rows = frame[(frame[by] == method) & (frame["status"] == Status.OK)]
    return {int(r.seed): r for r in rows.itertuples()}


def seed_pairs(
    frame: pd.DataFrame, method: str, baseline: str, by: str = "method"
) -> tuple[list[int], list[float], list[float]]:
    """Seeds both methods finished, with their primary metric: (seeds, method's, baseline's).
    `by` names the column that tells methods apart (`variant` where learning rates differ)."""
    mine, base = _per_seed(frame, method, by), _per_seed(frame, baseline, by)
    seeds = sorted(set(mine) & set(base))
    return seeds, [mine[s].metric for s in seeds], [base[s].metric for s in seeds]


def method_level_difference(
    store: Store,
    frame: pd.DataFrame,
    method: str,
    baseline: str,
    by: str = "method",
    n_resamples: int = 1000,
) -> MethodDifference | None:
    """`method` minus `baseline` in the primary metric, from the stored per-example rows of the
    seeds both finished; None where the metric cannot be recomputed from them (BLEU).
    `n_resamples`: for metrics that do not decompose per example (macro-F1, MCC)."""
    mine, base = _per_seed(frame, method, by), _per_seed(frame, baseline, by)
    seeds = sorted(set(mine) & set(base))
    if not seeds:
        return None
    metric = mine[seeds[0]].metric_name
    if metric not in PER_EXAMPLE and metric not in METRICS:
        return None
    labels, a_preds, b_preds = None, [], []
    for s in seeds:
        a_rows, b_rows = store.predictions(mine[s].cell_id), store.predictions(base[s].cell_id)
        ys = [r["label"] for r in a_rows]
        if [r["idx"] for r in a_rows] != [r["idx"] for r in b_rows] or (
            labels is not None and ys != labels
        ):
            raise ValueError(
                f"cells {mine[s].cell_id} and {base[s].cell_id} were not scored on the same "
                "examples as the other seeds"
            )
        labels = ys
        a_preds.append([r["pred"] for r in a_rows])
        b_preds.append([r["pred"] for r in b_rows])
    y, a, b = np.array(labels), np.array(a_preds), np.array(b_preds)
    if metric in PER_EXAMPLE:
        score = PER_EXAMPLE[metric]
        return method_difference(
            np.array([score(y, p) for p in a]), np.array([score(y, p) for p in b])
        )
    return method_difference_metric(y, a, b, METRICS[metric], n_resamples=n_resamples)


def compare_to_baseline(
    frame: pd.DataFrame, store: Store, baseline: str, untested: Collection[str] = ()
) -> list[Comparison]:
    """Every other method of `frame` (one task x model) against `baseline`, same seeds only;
    `untested` (methods with collapsed seeds: failures, not noise) are not compared."""
    out = []
    ok = frame[frame["status"] == Status.OK]
    if not _per_seed(frame, baseline) or ok.empty or baseline in untested:
        return out
    for method in ok["method"].drop_duplicates():
        if method == baseline or method in untested:
            continue
        result = method_level_difference(store, frame, method, baseline)
        if result is not None:
            out.append(Comparison(method, result.seeds, result))
    return out


def _seeds_needed(result: MethodDifference) -> str:
    """The point figure with its range over the seed variance's 90% interval: with 2 or 3
    seeds that variance is barely known, and so is the figure."""
    if not result.testable:
        return "n/a: 1 seed"
    needed = result.seeds_for_power(POWER)
    if needed is None:
        return "> 100" if result.estimate else "-"
    low, high = result.seeds_for_power_range(POWER)
    span = f"{low or '> 100'}-{high or '> 100'}" if low != high else ""
    have = " (have)" if needed <= result.seeds else ""
    return f"{needed}{have}" + (f" [{span}]" if span else "")


def comparison_columns(
    comparisons: list[Comparison], baseline: str, untested: dict[str, str] | None = None
) -> pd.DataFrame:
    """Δ with its method-level interval, Holm-corrected p (over the comparisons tested here)
    and seeds for 80% power; `untested` maps a method to why it was not compared."""
    untested = untested or {}
    if not comparisons and not untested:
        return pd.DataFrame(columns=["method"])
    testable = [c for c in comparisons if c.result.testable]
    corrected = dict(
        zip(
            (c.method for c in testable),
            stats.holm([c.result.pvalue for c in testable]).pvalues,
            strict=True,
        )
    )
    rows = []
    for c in comparisons:
        r = c.result
        if r.testable:
            delta = f"{r.estimate:+.4f} [{r.low:+.4f}, {r.high:+.4f}]"
            p = f"{corrected[c.method]:.3g}"
        else:
            delta, p = f"{r.estimate:+.4f} (1 seed)", "n/a: 1 seed, no test"
        rows.append(
            {
                "method": c.method,
                f"Δ vs {baseline} [95% CI]": delta,
                "p (Holm)": p,
                "seeds for 80% power": _seeds_needed(r),
            }
        )
    for method, why in untested.items():
        rows.append(
            {
                "method": method,
                f"Δ vs {baseline} [95% CI]": f"not tested: {why}",
                "p (Holm)": "—",
                "seeds for 80% power": "—",
            }
        )
    return pd.DataFrame(rows)
