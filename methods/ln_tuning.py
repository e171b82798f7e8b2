"""LayerNorm tuning (Zhao et al., 2023) through peft: train the normalisation layers only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.models.peft_support import wrap

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


def norm_module_names(model: nn.Module) -> list[str]:
    """Every LayerNorm / RMSNorm module that has parameters."""
    return [
        name
        for name, module in model.named_modules()
        if "norm" in type(module).__name__.lower() and any(True for _ in module.parameters())
    ]


@register_method("ln_tuning", family="selective", lr=5e-3)
def ln_tuning(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Train the weights and biases of every normalisation layer, plus the head."""
    from peft import LNTuningConfig

    return wrap(model, LNTuningConfig, ctx, target_modules=norm_module_names(model))
