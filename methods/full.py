"""Full fine-tuning: every parameter trains."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext, train_only
from bench.core.registry import register_method

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@register_method("full", family="full", lr=1e-4)
def full(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Train all parameters (the reference every other method is compared to)."""
    return train_only(model, lambda name, p: p.is_floating_point())
