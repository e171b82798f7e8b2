"""Each method against a baseline on one task x model: the method-level difference (seed and
test-set variance both counted, bench.stats.method_level), paired by seed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.core.status import Status
from bench.evaluate.metrics import METRICS, PER_EXAMPLE
from bench.stats.method_level import MethodDifference, method_difference, method_difference_metric
from bench.store.cell_store import Store


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
