"""IA3 (Liu et al., 2022) through peft: learned rescaling vectors on keys, values and the MLP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import ROLES
from bench.models.peft_support import is_gpt2, targets, wrap
from bench.models.sources import resolve_targets

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@register_method(
    "ia3",
    family="rescaling",
    lr=5e-3,
    defaults={"targets": ("k", "v", "down"), "feedforward": ("down",)},
    rules={"targets": ROLES, "feedforward": ROLES},
    base_when_disabled=True,
)
def ia3(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Scale the outputs of k and v, and the inputs of the MLP's down projection."""
    from peft import IA3Config

    names = targets(model, settings)
    feedforward = [n for n in resolve_targets(model, settings["feedforward"]) if n in names]
    return wrap(
        model,
        IA3Config,
        ctx,
        target_modules=names,
        feedforward_modules=feedforward,
        fan_in_fan_out=is_gpt2(model),
    )
