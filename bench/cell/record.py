"""A finished cell's record: typed sections, turned into the dict the store keeps (the same
keys, in the same order, as every stored cell has)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import torch

from bench.cell.load import LoadedCell
from bench.cell.regimes import Regimes
from bench.cell.setup import CellSetup
from bench.cell.train_loop import LoopResult
from bench.core.status import Status
from bench.data.splits import Encoded
from bench.evaluate.metrics import majority_baseline, per_class_recall
from bench.meters.flops import StepFlops, mfu, peak_flops_for


@dataclass
class Measured:
    """What the meters read: memory by window, step times, FLOPs, energy, wall seconds."""

    memory: dict[str, Any]
    speed: dict[str, Any]
    flops: StepFlops
    energy: dict[str, Any]
    tf32: bool


@dataclass
class Evaluated:
    """The scored part (test, or validation for a trial), its metrics and per-example rows."""

    scored: Encoded
    metrics: dict[str, Any]
    rows: list[dict[str, Any]]


@dataclass
class CellRecord:
    """The sections of a cell's result; `to_dict` is what the store keeps."""

    params: dict[str, Any]
    memory: dict[str, Any]
    speed: dict[str, Any]
    throughput: dict[str, Any]
    energy: dict[str, Any]
    metrics: dict[str, Any]
    per_class_recall: dict[str, float] | None
    primary_metric: str
    curve: list[dict[str, Any]]
    train_loss: dict[str, float]
    data: dict[str, Any]
    settings: dict[str, Any]
    precision: dict[str, Any]
    load: dict[str, Any]
    evaluated_on: str
    regime: dict[str, Any]
    forgetting: dict[str, Any] | None
    ewc: dict[str, Any] | None
    predictions: list[dict[str, Any]]
    wall_s: float
    env: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"status": Status.OK, **fields}


def cell_record(
    setup: CellSetup,
    loaded: LoadedCell,
    regimes: Regimes,
    loop: LoopResult,
    self_trained: dict[str, Any] | None,
    measured: Measured,
    evaluated: Evaluated,
    forgot: dict[str, Any] | None,
    wall_s: float,
    env: dict[str, Any],
) -> CellRecord:
    """Assemble the record from the steps' results."""
    spec, task, split = setup.spec, setup.task, setup.split
    classes = task.kind == "classification"
    joules = measured.energy["energy_j"]
    scored, rows = evaluated.scored, evaluated.rows
    return CellRecord(
        params=loaded.params,
        memory=measured.memory,
        speed=measured.speed,
        throughput=throughput(measured, setup.device, spec.precision),
        energy={
            **measured.energy,
            "energy_per_sample_j": joules / loop.samples_seen if joules is not None else None,
        },
        metrics={f"test_{k}" if k == "loss" else k: v for k, v in evaluated.metrics.items()},
        per_class_recall=(
            per_class_recall(scored.labels, [r["pred"] for r in rows], split.label_names)
            if classes
            else None
        ),
        primary_metric=task.metric,
        curve=loop.curve,
        train_loss={
            "first": loop.losses[0],
            "last": loop.losses[-1],
            "mean_last_10": sum(loop.losses[-10:]) / len(loop.losses[-10:]),
        },
        data={
            "split_hash": split.hash,
            "distribution": split.distribution(),
            "dropped": split.dropped,
            "train_examples": len(loaded.train),
            "balance": spec.balance,
            "augmentation": setup.augmentation,
            "tasks": [b.to_dict() for b in split.blocks] or None,  # a mixture's components
            "majority_baseline": (
                majority_baseline(loaded.train.labels, scored.labels) if classes else None
            ),
        },
        settings=setup.settings,
        precision={"recipe": spec.precision, "tf32": measured.tf32, "dtypes": loaded.dtypes},
        load=loaded.record,
        evaluated_on="validation" if spec.trial else "test",
        regime={
            "grad_accumulation": spec.grad_accumulation,
            "effective_batch_size": spec.batch_size * spec.grad_accumulation,
            "shots": spec.shots,
            "early_stopping": loop.early_stopping,
            "progressive_unfreezing": (
                regimes.unfreeze.summary() if regimes.unfreeze is not None else None
            ),
            "self_training": self_trained,
            "dynamic_mask": regimes.masking.record() if regimes.masking is not None else None,
        },
        forgetting=forgot,
        ewc=regimes.ewc.summary() if regimes.ewc is not None else None,
        predictions=rows,
        wall_s=wall_s,
        env=env,
    )


def throughput(measured: Measured, device: torch.device, precision: str) -> dict[str, Any]:
    """Model FLOPs per token, achieved FLOP/s over the steady steps, and MFU on a known card."""
    profile = None
    if device.type == "cuda":
        from bench.hardware.gpus import profile_for_device_name

        profile = profile_for_device_name(torch.cuda.get_device_name(device))
    padded_rate = measured.speed.get("padded_tokens_per_s")
    per_s = measured.flops.per_token * padded_rate if padded_rate is not None else None
    peak = peak_flops_for(profile, precision, measured.tf32)
    return {
        "flops_per_token": measured.flops.per_token,
        "flops_parts": dataclasses.asdict(measured.flops),
        "model_flops_per_s": per_s,
        "peak_flops": peak,
        "peak_source": profile.name if profile is not None else None,
        "mfu": mfu(per_s, peak) if per_s is not None else None,
    }
