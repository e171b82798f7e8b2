"""BitFit (Ben Zaken et al., 2022): train the bias terms only, plus the task head."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.errors import Unsupported
from bench.core.method_api import MethodContext, is_head_parameter, train_only
from bench.core.registry import register_method

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@register_method("bitfit", family="selective", lr=5e-3)
def bitfit(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Train every bias (and the new head); everything else stays frozen."""
    biases = [
        n
        for n, _ in model.named_parameters()
        if n.endswith(".bias") and not is_head_parameter(n, ctx.head_names)
    ]
    if not biases:
        kind = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
        raise Unsupported(
            f"BitFit needs bias terms and this {kind} model has none outside its head"
        )
    return train_only(
        model, lambda n, p: n.endswith(".bias") or is_head_parameter(n, ctx.head_names)
    )
