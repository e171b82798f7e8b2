"""A planned cell's predicted step time, throughput, MFU and energy on its card, from the kept
fit (bench/predict/efficiency.json, made by `python run_all.py predict --fit`)."""

from __future__ import annotations

import math
from typing import Any

from bench.core.spec import CellSpec
from bench.hardware.gpus import GpuProfile
from bench.plan.estimate import Estimate
from bench.predict.step_time import StepTime, load_efficiency, step_time


def optimizer_steps(spec: CellSpec) -> int | None:
    """The cell's optimizer steps: `max_steps`, else its training examples over the batch;
    None when the training split's size is only known once loaded."""
    if spec.max_steps:
        return spec.max_steps
    if spec.train_size is None:
        return None
    per_step = spec.batch_size * spec.grad_accumulation
    return max(1, math.ceil(spec.train_size * spec.epochs / per_step))


def cell_time(est: Estimate | None, spec: CellSpec, profile: GpuProfile) -> StepTime | None:
    """The predicted step (every sequence max_length tokens), or None without an estimate
    or a kept fit."""
    kept = load_efficiency()
    if est is None or kept is None or not est.costs:
        return None
    micro = spec.grad_accumulation
    costs = {  # each micro-batch runs forward and backward; clipping and the step run once
        phase: {
            key: [v * micro for v in values] if phase in ("forward", "backward") else values
            for key, values in entries.items()
        }
        for phase, entries in est.costs.items()
    }
    tokens = spec.batch_size * spec.max_length * micro
    return step_time(costs, profile, spec.precision, tokens, kept[0], spec.grad_checkpointing)


def time_fields(est: Estimate | None, spec: CellSpec, profile: GpuProfile) -> dict[str, Any]:
    """What a planned cell stores and `estimate --json` prints beside the memory fields."""
    predicted = cell_time(est, spec, profile)
    if predicted is None:
        return {}
    return {
        "predicted_step_s": predicted.step_s,
        "predicted_tokens_per_s": predicted.tokens_per_s,
        "predicted_mfu": predicted.mfu,
        "predicted_energy_j_per_token": predicted.energy_j_per_token,
    }
