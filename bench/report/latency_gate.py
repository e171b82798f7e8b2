"""The gate's optional serving budget: the method's served model at batch 1 against the base
model, timed side by side in each cell's inference stage (`check --latency-budget X`)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

import pandas as pd

from bench.report.serving_claims import serving_records
from bench.report.serving_table import served_variant


@dataclass(frozen=True)
class LatencyRow:
    task: str
    model: str
    served: str  # "merged" where the method merges, else "trained"
    ratios: list[float]  # per seed: the served model's median batch-1 latency over the base's
    budget: float

    @property
    def median(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    @property
    def passed(self) -> bool:
        return self.median is not None and self.median <= self.budget


def served_ratio(record: dict) -> tuple[str, float]:
    """(which model serves, its median batch-1 latency over the base model's), one cell."""
    latency = record["latency"]
    served = served_variant(latency)
    base = latency["base"]["latency_b1_median_ms"]
    return served, latency[served]["latency_b1_median_ms"] / base


def latency_rows(frame: pd.DataFrame, method: str, budget: float) -> list[LatencyRow]:
    """One row per task x model of the method's cells; a row without a serving record fails."""
    rows = []
    mine = frame[frame["method_name"] == method]
    for (task, model), group in mine.groupby(["task", "model"], sort=False):
        measured = [served_ratio(r) for r in serving_records(group)]
        served = measured[0][0] if measured else "—"
        rows.append(LatencyRow(task, model, served, [r for _, r in measured], budget))
    return rows


def latency_table(rows: list[LatencyRow]) -> str:
    table = pd.DataFrame(
        [
            {
                "task": r.task,
                "model": r.model,
                "served": r.served,
                "seeds": len(r.ratios),
                "latency x base (median)": "—" if r.median is None else f"{r.median:.2f}",
                "seeds' range": (
                    f"{min(r.ratios):.2f}-{max(r.ratios):.2f}" if r.ratios else "no serving record"
                ),
                "budget": f"{r.budget:g}",
                "verdict": "within budget" if r.passed else "OVER budget",
            }
            for r in rows
        ]
    )
    return table.to_markdown(index=False, disable_numparse=True)
