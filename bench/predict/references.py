"""Published GPU measurements of fine-tuning steps (references.toml), checked as they load: a
bad value is named with the row and the values that would do."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, before it joined the standard library
    import tomli as tomllib

from bench.core.vocab import OPTIMIZERS, RECIPE_NAMES, StepShape

REFERENCES = Path(__file__).with_name("references.toml")
COUNTERS = {
    "allocated": "torch.cuda.max_memory_allocated",
    "active": "the allocator's active_bytes peak (allocated plus rounding)",
    "reserved": "torch.cuda.max_memory_reserved (allocated plus the allocator's cache)",
    "device": "nvidia-smi / NVML (reserved plus the CUDA context)",
}
ROLES = ("fit", "held-out")


@dataclass(frozen=True)
class Reference:
    """One published measurement and the training step that made it."""

    id: str
    source: str
    url: str
    commit: str
    card: str
    counter: str
    model: str
    method: str
    precision: str
    optimizer: str
    grad_checkpointing: bool
    batch_size: int
    seq_len: int
    memory_gib: float
    role: str
    settings: dict[str, Any] = field(default_factory=dict)
    tokens_per_s: float | None = None
    time_seq_len: int | None = None  # tokens per sequence of the throughput, when not seq_len
    train_s: float | None = None
    steps: int | None = None
    optimizer_in_backward: bool = False
    loss_chunks: int | None = None
    unmatched: tuple[str, ...] = ()
    note: str = ""

    @property
    def shape(self) -> StepShape:
        return StepShape(
            self.precision,
            self.batch_size,
            self.seq_len,
            self.optimizer,
            self.grad_checkpointing,
            "generation",
            optimizer_in_backward=self.optimizer_in_backward,
            loss_chunks=self.loss_chunks,
        )

    @property
    def step_s(self) -> float | None:
        """Measured seconds per optimizer step, where the source gives time and steps."""
        if self.train_s is not None and self.steps:
            return self.train_s / self.steps
        return None


def _bad(row_id: str, name: str, value: Any, valid: str) -> ValueError:
    return ValueError(f"reference {row_id!r}: {name} {value!r} is not valid; {valid}")


def _check(row: dict[str, Any], index: int) -> Reference:
    from dataclasses import MISSING

    from bench.core.registry import METHODS
    from bench.hardware.gpus import GPUS, get_gpu
    from bench.plan.meta_model import config_for

    row_id = str(row.get("id", f"#{index + 1}"))
    known = {f.name for f in fields(Reference)}
    unknown = sorted(set(row) - known)
    if unknown:
        raise ValueError(
            f"reference {row_id!r}: unknown field(s) {', '.join(unknown)}; "
            f"fields are: {', '.join(sorted(known))}"
        )
    required = [
        f.name for f in fields(Reference) if f.default is MISSING and f.default_factory is MISSING
    ]
    missing = [name for name in required if name not in row]
    if missing:
        raise ValueError(f"reference {row_id!r}: missing field(s) {', '.join(missing)}")
    if row["counter"] not in COUNTERS:
        raise _bad(row_id, "counter", row["counter"], f"one of: {', '.join(COUNTERS)}")
    if row["role"] not in ROLES:
        raise _bad(row_id, "role", row["role"], f"one of: {', '.join(ROLES)}")
    if row["precision"] not in RECIPE_NAMES:
        raise _bad(row_id, "precision", row["precision"], f"one of: {', '.join(RECIPE_NAMES)}")
    if row["optimizer"] not in OPTIMIZERS:
        raise _bad(row_id, "optimizer", row["optimizer"], f"one of: {', '.join(OPTIMIZERS)}")
    try:
        card = get_gpu(row["card"]).name
    except Exception:
        raise _bad(
            row_id, "card", row["card"], f"a GPU profile: {', '.join(GPUS.names())}"
        ) from None
    if row["method"] not in METHODS:
        raise _bad(
            row_id, "method", row["method"], "a registered method (`run_all.py list methods`)"
        )
    try:
        config_for(row["model"])
    except Exception as exc:
        raise _bad(row_id, "model", row["model"], str(exc)) from None
    numbers = ("batch_size", "seq_len", "memory_gib", "tokens_per_s", "time_seq_len", "train_s")
    for name in (*numbers, "steps", "loss_chunks"):
        value = row.get(name)
        if value is not None and (isinstance(value, bool) or not value > 0):
            raise _bad(row_id, name, value, "a number above 0")
    settings = {
        k: tuple(v) if isinstance(v, list) else v for k, v in row.get("settings", {}).items()
    }
    return Reference(
        **{
            **row,
            "card": card,
            "settings": settings,
            "unmatched": tuple(row.get("unmatched", ())),
        }
    )


def load_references(path: str | Path = REFERENCES) -> list[Reference]:
    """Every row of a references file, checked; ids unique."""
    with open(path, "rb") as handle:
        rows = tomllib.load(handle).get("reference", [])
    out = [_check(row, i) for i, row in enumerate(rows)]
    seen: set[str] = set()
    for ref in out:
        if ref.id in seen:
            raise ValueError(f"reference id {ref.id!r} appears twice in {path}")
        seen.add(ref.id)
    return out
