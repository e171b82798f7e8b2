"""Wrapping a model with a peft config: task type, head kept trainable, roles resolved."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bench.core.errors import Unsupported
from bench.core.method_api import MethodContext
from bench.models.sources import resolve_targets

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn

PEFT_TASK_TYPES = {  # peft's TaskType values, named so that listing methods needs no peft
    "classification": "SEQ_CLS",
    "regression": "SEQ_CLS",
    "generation": "CAUSAL_LM",
    "token": "TOKEN_CLS",
}


def is_gpt2(model: nn.Module) -> bool:
    """GPT-2 stores its projections as Conv1D (transposed): peft needs fan_in_fan_out."""
    return getattr(getattr(model, "config", None), "model_type", None) == "gpt2"


def targets(model: nn.Module, settings: dict[str, Any], key: str = "targets") -> list[str]:
    """Module names for the roles in settings[key]."""
    return resolve_targets(model, settings[key])


def wrap(model: nn.Module, config_cls: type, ctx: MethodContext, **kwargs: Any) -> nn.Module:
    """get_peft_model with the cell's task type and the new task head trained alongside."""
    from peft import TaskType, get_peft_model

    config = config_cls(
        task_type=TaskType(PEFT_TASK_TYPES[ctx.task_kind]),
        modules_to_save=list(ctx.head_names) or None,
        **kwargs,
    )
    try:
        return get_peft_model(model, config)
    except TypeError as exc:  # peft's word that a layer type has no implementation of the method
        if "not supported" in str(exc):
            raise Unsupported(f"peft {config_cls.__name__}: {exc}") from exc
        raise
