"""The tables `--gpu --dry-run`, `estimate` and `list gpus` print: the plan, its summary, the
plan as JSON, the GPU profiles."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.core.status import Verdict
from bench.plan.placement import GIB, Placement
from bench.plan.planner import PlannedCell


def _gib(value: int | None) -> str:
    return f"{value / GIB:.1f}" if value is not None else "—"


def plan_frame(planned: Sequence[PlannedCell], statuses: dict[str, str | None]) -> pd.DataFrame:
    """One row per cell: id, stored status, verdict, predicted peaks and the label."""
    rows = []
    for p in planned:
        est = p.estimate
        rows.append(
            {
                "cell": p.spec.cell_id,
                "stored": statuses.get(p.spec.cell_id) or "-",
                "verdict": p.verdict,
                "NVML GiB": _gib(est.peak_device_bytes if est else None),
                "allocated GiB": _gib(est.peak_allocated_bytes if est else None),
                "cell spec": p.spec.label() + (f" ({p.note})" if p.note else ""),
            }
        )
    return pd.DataFrame(rows)


def plan_summary(planned: Sequence[PlannedCell], placement: Placement, seconds: float) -> str:
    """`308 cells for GeForce RTX 4090 (24.0 GiB): 294 fits, 13 wont_fit, ...`."""
    counts = Counter(p.verdict for p in planned)
    order = [Verdict.FITS, Verdict.WONT_FIT] + sorted(
        set(counts) - {Verdict.FITS, Verdict.WONT_FIT}
    )
    where = (
        f"emulated on {placement.card}"
        if placement.emulate
        else (
            f"on {placement.card}"
            if placement.detected is not None
            else "(no GPU here: planned for that card)"
        )
    )
    return (
        f"{len(planned)} cells for {placement.profile.title} "
        f"({placement.profile.memory_bytes / GIB:.1f} GiB) {where}: "
        + ", ".join(f"{counts[v]} {v}" for v in order if counts[v])
        + f"; estimated in {seconds:.0f} s (the training step's peak, every sequence at "
        "max_length; fits = NVML peak within the card's memory)"
    )


def estimate_json(planned: Sequence[PlannedCell]) -> str:
    """The plan as JSON: one object per cell with its spec, verdict and estimate."""
    out: list[dict[str, Any]] = []
    for p in planned:
        out.append(
            {
                "cell_id": p.spec.cell_id,
                "spec": json.loads(p.spec.to_json()),
                **p.record(),
            }
        )
    return json.dumps(out, indent=1)
