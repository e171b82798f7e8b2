"""LyCORIS-style low-rank products through peft: LoHa (Hadamard) and LoKr (Kronecker)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import POSITIVE, POSITIVE_INT, ROLES
from bench.models.peft_support import targets, wrap

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn

DEFAULTS = {"r": 8, "alpha": 8, "targets": ("q", "v")}
LYCORIS = {
    "defaults": DEFAULTS,
    "rules": {"r": POSITIVE_INT, "alpha": POSITIVE, "targets": ROLES},
    "search": ("r", (4, 8, 16)),
}


@register_method("loha", family="reparametrization", lr=3e-3, base_when_disabled=True, **LYCORIS)
def loha(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Update = (B1 A1) * (B2 A2), a Hadamard product of two low-rank pairs (Hyeon-Woo, 2022)."""
    from peft import LoHaConfig

    return wrap(
        model,
        LoHaConfig,
        ctx,
        r=int(settings["r"]),
        alpha=settings["alpha"],
        target_modules=targets(model, settings),
    )


@register_method("lokr", family="reparametrization", lr=3e-3, base_when_disabled=True, **LYCORIS)
def lokr(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Update = W1 (x) (B A), a Kronecker product with a low-rank factor (Yeh et al., 2023)."""
    from peft import LoKrConfig

    return wrap(
        model,
        LoKrConfig,
        ctx,
        r=int(settings["r"]),
        alpha=settings["alpha"],
        target_modules=targets(model, settings),
    )
