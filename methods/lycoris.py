"""LyCORIS-style low-rank products through peft: LoHa (Hadamard) and LoKr (Kronecker)."""

from __future__ import annotations

from peft import LoHaConfig, LoKrConfig
from torch import nn

from bench.method_api import MethodContext
from bench.peft_support import targets, wrap
from bench.registry import register_method

DEFAULTS = {"r": 8, "alpha": 8, "targets": ("q", "v")}


@register_method("loha", family="reparametrization", lr=3e-3, defaults=DEFAULTS)
def loha(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Update = (B1 A1) * (B2 A2), a Hadamard product of two low-rank pairs (Hyeon-Woo, 2022)."""
    return wrap(
        model,
        LoHaConfig,
        ctx,
        r=int(settings["r"]),
        alpha=settings["alpha"],
        target_modules=targets(model, settings),
    )


@register_method("lokr", family="reparametrization", lr=3e-3, defaults=DEFAULTS)
def lokr(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Update = W1 (x) (B A), a Kronecker product with a low-rank factor (Yeh et al., 2023)."""
    return wrap(
        model,
        LoKrConfig,
        ctx,
        r=int(settings["r"]),
        alpha=settings["alpha"],
        target_modules=targets(model, settings),
    )
