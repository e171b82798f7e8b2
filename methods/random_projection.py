"""Small trained parts around shared frozen random matrices: VeRA, RandLoRA, VB-LoRA."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import POSITIVE_INT, ROLES
from bench.models.peft_support import is_gpt2, targets, wrap

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@register_method(
    "vera",
    family="reparametrization",
    lr=1e-2,
    defaults={"r": 256, "targets": ("q", "v")},
    rules={"r": POSITIVE_INT, "targets": ROLES},
    search=("r", (128, 256, 512)),
)
def vera(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Frozen random A, B shared by all layers; per module only two scaling vectors train."""
    from peft import VeraConfig

    return wrap(
        model,
        VeraConfig,
        ctx,
        r=int(settings["r"]),
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
        projection_prng_key=ctx.seed,
    )


@register_method(
    "randlora",
    family="reparametrization",
    lr=3e-3,
    defaults={"r": 32, "targets": ("q", "v")},
    rules={"r": POSITIVE_INT, "targets": ROLES},
    search=("r", (16, 32, 64)),
)
def randlora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Full-rank updates from frozen random bases with trained diagonal scales (Albert, 2025)."""
    from peft import RandLoraConfig

    return wrap(
        model,
        RandLoraConfig,
        ctx,
        r=int(settings["r"]),
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
        projection_prng_key=ctx.seed,
    )


@register_method(
    "vblora",
    family="reparametrization",
    lr=3e-3,
    defaults={"r": 4, "num_vectors": 64, "vector_length": 64, "targets": ("q", "v")},
    rules={
        "r": POSITIVE_INT,
        "num_vectors": POSITIVE_INT,
        "vector_length": POSITIVE_INT,
        "targets": ROLES,
    },
    search=("r", (2, 4, 8)),
    meta_truth=False,  # its data-dependent test must see False where values are unknown
)
def vblora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """LoRA factors assembled from a shared bank of trained vectors (Li et al., 2024)."""
    from peft import VBLoRAConfig

    return wrap(
        model,
        VBLoRAConfig,
        ctx,
        r=int(settings["r"]),
        num_vectors=int(settings["num_vectors"]),
        vector_length=int(settings["vector_length"]),
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
    )
