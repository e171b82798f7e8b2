"""A multi-task mixture's scores: each component's metrics on its own rows, in its own label
ids, and the mean of their primary metrics."""

from __future__ import annotations

import numpy as np

from bench.data.mixture import Block
from bench.evaluate.metrics import compute_metrics


def mixture_metrics(
    blocks: tuple[Block, ...], tasks: list[int], labels: list[int], preds: list[int]
) -> dict[str, float]:
    """Each component's metrics on its rows (`task/metric`, in its own label ids; `tasks` holds
    each row's component index), their primary metrics' mean (`task_mean`) and the accuracy
    over all rows."""
    y, p, t = np.asarray(labels), np.asarray(preds), np.asarray(tasks)
    out: dict[str, float] = {"accuracy": float((y == p).mean()) if len(y) else 0.0}
    primaries = []
    for i, block in enumerate(blocks):
        rows = t == i
        own = compute_metrics(
            block.metrics,
            (y[rows] - block.label_offset).tolist(),
            (p[rows] - block.label_offset).tolist(),
        )
        out |= {f"{block.task}/{k}": v for k, v in own.items()}
        primaries.append(own[block.metric])
    out["task_mean"] = float(np.mean(primaries))
    return out
