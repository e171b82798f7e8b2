"""What a method receives besides the model, and helpers that methods share."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@dataclass
class MethodContext:
    """The cell's facts a method may need; `step_hooks(step)` run after each optimiser step."""

    model_kind: str
    task_kind: str
    head_names: list[str]
    seed: int
    total_steps: int = 0
    device: str = "cpu"
    calibration_batches: Callable[[int], list[dict[str, Any]]] | None = None
    step_hooks: list[Callable[[int], None]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def is_head_parameter(name: str, head_names: Iterable[str]) -> bool:
    """True when a parameter's dotted name passes through one of the head modules."""
    parts = name.split(".")
    return any(h in parts for h in head_names)


def train_only(model: nn.Module, keep: Callable[[str, nn.Parameter], bool]) -> nn.Module:
    """Freeze every parameter, then unfreeze those for which `keep(name, param)` holds."""
    for name, param in model.named_parameters():
        param.requires_grad_(bool(keep(name, param)))
    return model
