"""LoRA (Hu et al., 2021) through peft, on the modules that the target roles name."""

from __future__ import annotations

from peft import LoraConfig, TaskType, get_peft_model
from torch import nn

from bench.method_api import MethodContext
from bench.models import resolve_targets
from bench.registry import register_method

PEFT_TASK_TYPES = {"classification": TaskType.SEQ_CLS, "generation": TaskType.CAUSAL_LM}


@register_method(
    "lora",
    family="reparametrization",
    lr=3e-3,
    defaults={"r": 8, "alpha": 16, "dropout": 0.1, "targets": ("q", "v")},
)
def lora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Low-rank updates B @ A on the target projections; the base stays frozen."""
    config = LoraConfig(
        r=int(settings["r"]),
        lora_alpha=settings["alpha"],
        lora_dropout=settings["dropout"],
        target_modules=resolve_targets(model, settings["targets"]),
        fan_in_fan_out=model.config.model_type == "gpt2",
        modules_to_save=list(ctx.head_names) or None,
        task_type=PEFT_TASK_TYPES[ctx.task_kind],
    )
    return get_peft_model(model, config)
