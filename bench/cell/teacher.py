"""A distilled cell's teacher: its logits on the training split, cached by teacher cell and
split (a file under the asset cache), else trained here first from the teacher's spec."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.core.spec import CellSpec
from bench.data.assets import cache_dir


@dataclass(frozen=True)
class Taught:
    """What a student gets from its teacher, and what its record says of it."""

    logits: torch.Tensor  # (training examples, classes), in the split's order
    record: dict[str, Any]


def cache_path(teacher_id: str, split_hash: str) -> Path:
    return cache_dir() / "teachers" / f"{teacher_id}-{split_hash}.pt"


def teacher_logits(
    teacher: CellSpec, split_hash: str, run_cell: Callable[..., dict[str, Any]]
) -> Taught:
    """The teacher's training-split logits for a student whose split is `split_hash`: from the
    cache, or by training the teacher cell in this process with `run_cell` (before the
    student's meters start) and caching them. A teacher drawn on another split is refused."""
    path = cache_path(teacher.cell_id, split_hash)
    if path.exists():
        kept = torch.load(path, weights_only=True)
        return Taught(kept["logits"], {**_summary(teacher, kept), "trained_in_this_cell": False})
    from bench.serve.merge import logits_of

    captured: dict[str, Any] = {}

    def keep(setup: Any, loaded: Any) -> None:
        captured["split_hash"] = setup.split.hash
        captured["logits"] = logits_of(loaded.model, loaded.train, setup.device, loaded.pad_id)

    record = run_cell(teacher, after_evaluation=keep)
    if captured["split_hash"] != split_hash:
        raise ValueError(
            f"teacher {teacher.cell_id} ({teacher.label()}) trains on split "
            f"{captured['split_hash']}; the student's is {split_hash}: give both the same task, "
            "training size, balance and shots"
        )
    kept = _cache(path, captured["logits"], record)
    del record
    gc.collect()
    return Taught(kept["logits"], {**_summary(teacher, kept), "trained_in_this_cell": True})


def cache_from_kept(teacher: CellSpec, result: dict[str, Any], folder: Path) -> Path:
    """Cache a stored teacher cell's training-split logits from its kept state: the model
    rebuilt from its spec with the kept tensors over it, no training (the record's metric)."""
    from bench.cell.kept_state import load_state, rebuilt
    from bench.cell.setup import resolve
    from bench.serve.merge import logits_of

    path = cache_path(teacher.cell_id, resolve(teacher).split.hash)
    if path.exists():
        return path
    kept_state = result["kept_state"]
    setup, loaded = rebuilt(teacher, load_state(folder, kept_state))
    logits = logits_of(loaded.model, loaded.train, setup.device, loaded.pad_id)
    _cache(path, logits, result, kept_state=kept_state["sha256"])
    return path


def _cache(path: Path, logits: torch.Tensor, record: dict[str, Any], **extra: Any) -> dict:
    """Save a teacher's logits with its record's primary metric under `path`; what was saved."""
    metric = record["primary_metric"]
    kept = {"logits": logits, "metric": metric, "value": float(record["metrics"][metric]), **extra}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(kept, path)
    return kept


def _summary(teacher: CellSpec, kept: dict[str, Any]) -> dict[str, Any]:
    return {
        "teacher_id": teacher.cell_id,
        "teacher": teacher.label(),
        "teacher_metric": kept["metric"],
        "teacher_value": kept["value"],
        "teacher_kept_state": kept.get("kept_state"),  # logits from the stored cell's state
    }
