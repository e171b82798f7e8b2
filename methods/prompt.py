"""Soft prompts through peft: prompt tuning, prefix tuning and P-tuning."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import BOOL, POSITIVE_INT
from bench.models.peft_support import wrap

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn

TOKENS = ("virtual_tokens", (10, 20, 40))  # the length a search varies


@register_method(
    "prompt_tuning",
    family="soft-prompt",
    lr=3e-2,
    defaults={"virtual_tokens": 20},
    rules={"virtual_tokens": POSITIVE_INT},
    search=TOKENS,
    base_when_disabled=True,
)
def prompt_tuning(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Trained embeddings of virtual tokens prepended to the input (Lester et al., 2021)."""
    from peft import PromptTuningConfig

    return wrap(model, PromptTuningConfig, ctx, num_virtual_tokens=int(settings["virtual_tokens"]))


@register_method(
    "prefix_tuning",
    family="soft-prompt",
    lr=1e-2,
    defaults={"virtual_tokens": 20, "projection": False},
    rules={"virtual_tokens": POSITIVE_INT, "projection": BOOL},
    search=TOKENS,
    no_checkpointing="prefix tuning passes its prefix as past key values, which transformers "
    "drops under gradient checkpointing",
)
def prefix_tuning(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Trained keys and values prepended at every layer (Li and Liang, 2021)."""
    from peft import PrefixTuningConfig

    return wrap(
        model,
        PrefixTuningConfig,
        ctx,
        num_virtual_tokens=int(settings["virtual_tokens"]),
        prefix_projection=bool(settings["projection"]),
    )


@register_method(
    "p_tuning",
    family="soft-prompt",
    lr=1e-2,
    defaults={"virtual_tokens": 20, "encoder_hidden": 128},
    rules={"virtual_tokens": POSITIVE_INT, "encoder_hidden": POSITIVE_INT},
    search=TOKENS,
)
def p_tuning(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Virtual-token embeddings produced by a small trained MLP encoder (Liu et al., 2021)."""
    from peft import PromptEncoderConfig

    return wrap(
        model,
        PromptEncoderConfig,
        ctx,
        num_virtual_tokens=int(settings["virtual_tokens"]),
        encoder_hidden_size=int(settings["encoder_hidden"]),
    )
