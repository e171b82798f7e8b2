"""Each method against a baseline on one task x model: paired by seed and by example."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench import stats
from bench.metrics import METRICS
from bench.store import Store


@dataclass(frozen=True)
class Comparison:
    """One method against the baseline; p-values are raw here, Holm-corrected by the caller."""

    method: str
    seeds: int
    seed_test: stats.TestResult
    example_test: stats.TestResult


def _per_seed(frame: pd.DataFrame, method: str) -> dict[int, pd.Series]:
    rows = frame[(frame["method"] == method) & (frame["status"] == "ok")]
    return {int(r.seed): r for r in rows.itertuples()}


def seed_pairs(
    frame: pd.DataFrame, method: str, baseline: str
) -> tuple[list[int], list[float], list[float]]:
    """Seeds both methods finished, with their primary metric: (seeds, method's, baseline's)."""
    mine, base = _per_seed(frame, method), _per_seed(frame, baseline)
    seeds = sorted(set(mine) & set(base))
    return seeds, [mine[s].metric for s in seeds], [base[s].metric for s in seeds]


def example_test(store: Store, pairs: list[tuple[str, str]], metric: str) -> stats.TestResult:
    """Per-example test pooled over seeds: McNemar for accuracy, paired bootstrap otherwise."""
    labels, a_pred, b_pred = [], [], []
    for a_id, b_id in pairs:
        a_rows, b_rows = store.predictions(a_id), store.predictions(b_id)
        if [r["idx"] for r in a_rows] != [r["idx"] for r in b_rows]:
            raise ValueError(f"cells {a_id} and {b_id} were not scored on the same examples")
        labels += [r["label"] for r in a_rows]
        a_pred += [r["pred"] for r in a_rows]
        b_pred += [r["pred"] for r in b_rows]
    y, a, b = np.array(labels), np.array(a_pred), np.array(b_pred)
    if metric == "accuracy":
        return stats.mcnemar(a == y, b == y)
    return stats.paired_bootstrap(a, b, METRICS[metric], labels=y, n_resamples=2000)


def compare_to_baseline(frame: pd.DataFrame, store: Store, baseline: str) -> list[Comparison]:
    """Every other method of `frame` (one task x model) against `baseline`, same seeds only."""
    base = _per_seed(frame, baseline)
    out = []
    ok = frame[frame["status"] == "ok"]
    if not base or ok.empty:
        return out
    metric = ok["metric_name"].iloc[0]
    for method in ok["method"].drop_duplicates():
        if method == baseline:
            continue
        seeds, mine_metric, base_metric = seed_pairs(frame, method, baseline)
        if not seeds:
            continue
        seed_test = stats.paired_ttest(mine_metric, base_metric)
        mine = _per_seed(frame, method)
        pairs = [(mine[s].cell_id, base[s].cell_id) for s in seeds]
        out.append(Comparison(method, len(seeds), seed_test, example_test(store, pairs, metric)))
    return out


def comparison_columns(comparisons: list[Comparison], baseline: str) -> pd.DataFrame:
    """Δ with its seed-paired interval and Holm-corrected p-values, one row per method."""
    if not comparisons:
        return pd.DataFrame(columns=["method"])
    p_seed = stats.holm([c.seed_test.pvalue for c in comparisons]).pvalues
    p_example = stats.holm([c.example_test.pvalue for c in comparisons]).pvalues
    rows = []
    for c, ps, pe in zip(comparisons, p_seed, p_example, strict=True):
        t = c.seed_test
        if c.seeds >= 2:
            delta = f"{t.estimate:+.4f} [{t.low:+.4f}, {t.high:+.4f}]"
            seed_p = f"{ps:.3g}"
        else:
            delta, seed_p = f"{t.estimate:+.4f} (1 seed)", "n/a"
        rows.append(
            {
                "method": c.method,
                f"Δ vs {baseline} [95% CI]": delta,
                "p seeds (Holm)": seed_p,
                "p examples (Holm)": f"{pe:.3g}",
            }
        )
    return pd.DataFrame(rows)
