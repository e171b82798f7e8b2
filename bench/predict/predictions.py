"""Every reference row predicted: memory in the row's counter, and throughput from the roofline
whose efficiencies are fitted on the rows marked `fit` (the others held out)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench.hardware.gpus import get_gpu
from bench.predict.memory import (
    MemoryPrediction,
    base_params,
    predict_memory,
    reference_estimate,
)
from bench.predict.references import Reference
from bench.predict.step_time import Efficiency, StepTime, TimedRow, fit_efficiency, step_time


@dataclass(frozen=True)
class RowPrediction:
    memory: MemoryPrediction
    time: StepTime | None  # None where the row publishes no throughput or no estimate was made
    tokens_per_step: int

    @property
    def reference(self) -> Reference:
        return self.memory.reference

    @property
    def time_error(self) -> float | None:
        """predicted / measured tokens per second - 1."""
        measured = self.reference.tokens_per_s
        if self.time is None or measured is None:
            return None
        return self.time.tokens_per_s / measured - 1


@dataclass(frozen=True)
class Predictions:
    rows: list[RowPrediction]
    efficiency: Efficiency | None  # fitted on the `fit` rows; None without any
    fitted_on: list[str]


def _time_length(ref: Reference) -> int:
    return ref.time_seq_len or ref.seq_len


def _timed(ref: Reference) -> TimedRow | None:
    if ref.tokens_per_s is None:
        return None
    try:
        est = reference_estimate(ref, _time_length(ref))
    except (ValueError, RuntimeError, NotImplementedError):
        return None
    return TimedRow(
        est.costs,
        get_gpu(ref.card),
        ref.precision,
        ref.batch_size * _time_length(ref),
        ref.grad_checkpointing,
        ref.tokens_per_s,
    )


def not_yet_estimated(refs: list[Reference]) -> list[str]:
    """The rows whose estimates (memory, and time where a throughput is published) are not on
    disk yet: predict_all would make them, a minute or more each on two cores."""
    from bench.predict.memory import reference_estimated

    return [
        ref.id
        for ref in refs
        if not reference_estimated(ref)
        or (ref.tokens_per_s is not None and not reference_estimated(ref, _time_length(ref)))
    ]


def predict_all(refs: list[Reference]) -> Predictions:
    """Every row's memory; the efficiencies fitted on the fit rows' throughput; every row's
    throughput from them."""
    counts: dict[str, int] = {}
    memories = []
    for ref in refs:
        if ref.model not in counts:
            counts[ref.model] = base_params(ref.model)
        memories.append(predict_memory(ref, counts[ref.model]))
    timed = {
        ref.id: _timed(ref) if memory.predicted_bytes else None
        for ref, memory in zip(refs, memories, strict=True)
    }
    fit_rows = [row for ref in refs if ref.role == "fit" and (row := timed[ref.id]) is not None]
    efficiency = fit_efficiency(fit_rows) if fit_rows else None
    fitted_on = [ref.id for ref in refs if ref.role == "fit" and timed[ref.id] is not None]
    rows = []
    for ref, memory in zip(refs, memories, strict=True):
        row = timed[ref.id]
        tokens = ref.batch_size * _time_length(ref)
        time = None
        if row is not None and efficiency is not None:
            time = step_time(
                row.costs, row.profile, row.precision, row.tokens, efficiency, row.checkpointing
            )
        rows.append(RowPrediction(memory, time, tokens))
    return Predictions(rows, efficiency, fitted_on)


def summary(errors: list[float | None]) -> dict[str, Any]:
    """Median and worst absolute error of the rows that have one."""
    values = [abs(e) for e in errors if e is not None]
    if not values:
        return {"rows": 0}
    return {"rows": len(values), "median": statistics.median(values), "worst": max(values)}
