"""The LoRA family through peft: LoRA, DoRA, rsLoRA, PiSSA and OLoRA initialisations, AdaLoRA."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.errors import Unsupported
from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import DROPOUT, POSITIVE, POSITIVE_INT, ROLES
from bench.models.peft_support import is_gpt2, targets, wrap

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn

LORA_DEFAULTS = {"r": 8, "alpha": 16, "dropout": 0.1, "targets": ("q", "v")}
LORA_RULES = {"r": POSITIVE_INT, "alpha": POSITIVE, "dropout": DROPOUT, "targets": ROLES}
LORA_SEARCH = ("r", (4, 8, 16))  # the rank a search varies
LORA = {"defaults": LORA_DEFAULTS, "rules": LORA_RULES, "search": LORA_SEARCH}
OFF_IS_BASE = {"base_when_disabled": True}  # B starts at zero and the base stays as loaded


def lora_on(model: nn.Module, settings: dict, ctx: MethodContext, **extra: object) -> nn.Module:
    from peft import LoraConfig

    return wrap(
        model,
        LoraConfig,
        ctx,
        r=int(settings["r"]),
        lora_alpha=settings["alpha"],
        lora_dropout=settings["dropout"],
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
        **extra,
    )


@register_method("lora", family="reparametrization", lr=3e-3, **LORA, **OFF_IS_BASE)
def lora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Low-rank updates B @ A on the target projections (Hu et al., 2021); the base is frozen."""
    return lora_on(model, settings, ctx)


@register_method("dora", family="reparametrization", lr=3e-3, **LORA, **OFF_IS_BASE)
def dora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """LoRA on the direction plus a trained magnitude vector per module (Liu et al., 2024)."""
    return lora_on(model, settings, ctx, use_dora=True)


@register_method("rslora", family="reparametrization", lr=3e-3, **LORA, **OFF_IS_BASE)
def rslora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """LoRA scaled by alpha / sqrt(r) instead of alpha / r (Kalajdzievski, 2023)."""
    return lora_on(model, settings, ctx, use_rslora=True)


@register_method(
    "pissa",
    family="reparametrization",
    lr=3e-3,
    **LORA,
    meta_method="lora",  # SVD of values
)
def pissa(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """LoRA initialised from the principal singular vectors, the residual frozen (Meng, 2024)."""
    return lora_on(model, settings, ctx, init_lora_weights="pissa_niter_4")


@register_method(
    "olora",
    family="reparametrization",
    lr=3e-3,
    **LORA,
    meta_method="lora",  # QR of values
)
def olora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """LoRA initialised from a QR decomposition of the weight (Büyükakyüz, 2024)."""
    if is_gpt2(model):
        raise Unsupported("peft's OLoRA initialisation ignores fan_in_fan_out (GPT-2's Conv1D)")
    return lora_on(model, settings, ctx, init_lora_weights="olora")


@register_method(
    "adalora",
    family="reparametrization",
    lr=3e-3,
    defaults={"init_r": 12, "target_r": 8, "alpha": 16, "dropout": 0.1, "targets": ("q", "v")},
    rules={**LORA_RULES, "init_r": POSITIVE_INT, "target_r": POSITIVE_INT},
    search=("target_r", (4, 8, 12)),  # at most init_r (12)
    **OFF_IS_BASE,
)
def adalora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """SVD-shaped LoRA whose rank budget is pruned during training (Zhang et al., 2023)."""
    from peft import AdaLoraConfig

    total = max(ctx.total_steps, 1)
    tinit, tfinal = int(0.1 * total), int(0.2 * total)
    wrapped = wrap(
        model,
        AdaLoraConfig,
        ctx,
        init_r=int(settings["init_r"]),
        target_r=int(settings["target_r"]),
        lora_alpha=settings["alpha"],
        lora_dropout=settings["dropout"],
        target_modules=targets(model, settings),
        fan_in_fan_out=is_gpt2(model),
        total_step=total,
        tinit=tinit,
        tfinal=tfinal,
        deltaT=1,
    )
    ctx.step_hooks.append(wrapped.base_model.update_and_allocate)
    return wrapped
