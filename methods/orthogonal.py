"""Orthogonal fine-tuning through peft: OFT, BOFT (butterfly) and HRA (Householder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import POSITIVE_INT, ROLES
from bench.models.peft_support import is_gpt2, targets, wrap

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@register_method(
    "oft",
    family="orthogonal",
    lr=3e-3,
    defaults={"block_size": 32, "targets": ("q", "v")},
    rules={"block_size": POSITIVE_INT, "targets": ROLES},
    search=("block_size", (16, 32, 64)),
)
def oft(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Rotate each weight by a block-diagonal orthogonal matrix (Qiu et al., 2023)."""
    from peft import OFTConfig

    return wrap(
        model,
        OFTConfig,
        ctx,
        r=0,
        oft_block_size=int(settings["block_size"]),
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
    )


@register_method(
    "boft",
    family="orthogonal",
    lr=3e-3,
    defaults={"block_size": 4, "butterfly_factor": 1, "targets": ("q", "v")},
    rules={"block_size": POSITIVE_INT, "butterfly_factor": POSITIVE_INT, "targets": ROLES},
    search=("block_size", (2, 4, 8)),
)
def boft(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Orthogonal update as a product of butterfly-sparse factors (Liu et al., 2024)."""
    from peft import BOFTConfig

    return wrap(
        model,
        BOFTConfig,
        ctx,
        boft_block_size=int(settings["block_size"]),
        boft_n_butterfly_factor=int(settings["butterfly_factor"]),
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
    )


@register_method(
    "hra",
    family="orthogonal",
    lr=3e-3,
    defaults={"r": 8, "targets": ("q", "v")},
    rules={"r": POSITIVE_INT, "targets": ROLES},
    search=("r", (4, 8, 16)),
)
def hra(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """A chain of r Householder reflections per module (Yuan et al., 2024)."""
    from peft import HRAConfig

    return wrap(
        model, HRAConfig, ctx, r=int(settings["r"]), target_modules=targets(model, settings)
    )
