"""Precision recipes as practitioners name them: weight dtype, compute dtype, added params."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from bench.core.vocab import RECIPE_NAMES

# The one table of dtype names: how recipes, settings and reports spell torch's dtypes.
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def dtype_name(dtype: torch.dtype) -> str:
    """`bf16` for torch.bfloat16, ...; torch's own name for a dtype the table lacks."""
    names = {v: k for k, v in DTYPES.items()}
    return names.get(dtype, str(dtype).removeprefix("torch."))


@dataclass(frozen=True)
class Recipe:
    """`weights`: dtype of the base weights (and so of their gradients and Adam states);
    `autocast`: the compute dtype under autocast, if any; `added_fp32`: parameters a method
    adds (LoRA factors, adapters, new heads) stay fp32, as peft keeps them."""

    name: str
    weights: torch.dtype
    autocast: torch.dtype | None
    added_fp32: bool
    description: str
    loss_scaling: bool = False  # fp16 gradients underflow without a GradScaler


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe("fp32", torch.float32, None, False, "fp32 weights, fp32 compute (TF32 on Ampere+)"),
        Recipe(
            "amp-bf16", torch.float32, torch.bfloat16, False, "fp32 master weights, bf16 autocast"
        ),
        Recipe("bf16", torch.bfloat16, None, True, "bf16 weights and optimizer states"),
        Recipe(
            "amp-fp16",
            torch.float32,
            torch.float16,
            False,
            "fp32 weights, fp16 autocast, loss scaling",
            loss_scaling=True,
        ),
    )
}


assert tuple(RECIPES) == RECIPE_NAMES  # the command line offers these names before torch loads


def get_recipe(name: str) -> Recipe:
    """The recipe called `name` (an error names the valid ones)."""
    if name not in RECIPES:
        raise ValueError(f"precision {name!r} is not one of: {', '.join(RECIPES)}")
    return RECIPES[name]


def added_parameters(model: nn.Module, base_ids: set[int], heads: list[str]) -> list[str]:
    """Names of the trainable parameters a method added or a new head holds."""
    from bench.core.method_api import is_head_parameter

    return [
        name
        for name, p in model.named_parameters()
        if p.requires_grad and (id(p) not in base_ids or is_head_parameter(name, heads))
    ]


def keep_added_fp32(
    model: nn.Module, base_ids: set[int], heads: list[str], compute: torch.dtype
) -> list[str]:
    """Cast added and head parameters to fp32, as peft keeps its adapters, and make their
    modules take inputs in fp32: peft's own layers cast for themselves; for the others (new
    heads, our adapters, peft's copied heads and prompt encoders) a hook casts floating
    inputs to fp32 and, except for heads (whose fp32 logits feed the loss), outputs back to
    `compute`. Returns the names of the modules given hooks."""
    from peft.tuners.tuners_utils import BaseTunerLayer
    from peft.utils.other import AuxiliaryTrainingWrapper  # peft's copied heads

    added = set(added_parameters(model, base_ids, heads))
    for name, p in model.named_parameters():
        if name in added and p.is_floating_point():
            p.data = p.data.float()
    hooked: list[str] = []

    def visit(prefix: str, module: nn.Module) -> None:
        if isinstance(module, BaseTunerLayer) and not isinstance(module, AuxiliaryTrainingWrapper):
            # peft's layers take mixed inputs; some (LN tuning) return fp32: cast back
            module.register_forward_hook(_cast_output(compute))
            return
        names = [f"{prefix}{n}" for n, _ in module.named_parameters()]
        container = isinstance(module, nn.ModuleDict | nn.ModuleList)  # never called itself
        if names and all(n in added for n in names) and not container:
            is_head = any(h in prefix.rstrip(".").split(".") for h in heads)
            module.register_forward_pre_hook(_cast_inputs, with_kwargs=True)
            if not is_head:
                module.register_forward_hook(_cast_output(compute))
            hooked.append(prefix.rstrip("."))
            return
        for child_name, child in module.named_children():
            visit(f"{prefix}{child_name}.", child)

    visit("", model)
    return hooked


def _to_dtype(value: Any, dtype: torch.dtype) -> Any:
    from torch.utils._pytree import tree_map

    return tree_map(
        lambda t: t.to(dtype) if isinstance(t, torch.Tensor) and t.is_floating_point() else t,
        value,
    )


def _cast_inputs(module: nn.Module, args: Any, kwargs: Any) -> tuple[Any, Any]:
    return _to_dtype(args, torch.float32), _to_dtype(kwargs, torch.float32)


def _cast_output(dtype: torch.dtype) -> Any:
    def hook(module: nn.Module, args: Any, output: Any) -> Any:
        return _to_dtype(output, dtype)

    return hook


def dtype_census(model: nn.Module) -> dict[str, dict[str, int]]:
    """Parameter elements per dtype, trainable and frozen apart (a 4-bit weight counts the
    elements bitsandbytes stores)."""
    out: dict[str, dict[str, int]] = {"trainable": {}, "frozen": {}}
    for p in model.parameters():
        group = out["trainable" if p.requires_grad else "frozen"]
        key = str(p.dtype).removeprefix("torch.")
        group[key] = group.get(key, 0) + p.numel()
    return out


def enable_tf32(device: torch.device) -> bool:
    """TF32 for fp32 matmuls and convolutions on Ampere and later; True when it is on."""
    if device.type != "cuda" or torch.cuda.get_device_capability(device)[0] < 8:
        return False
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    return True


def autocast_for(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The recipe's autocast (amp-bf16, amp-fp16) on the device; none for fp32 and bf16."""
    recipe = get_recipe(precision)
    if recipe.autocast is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=recipe.autocast)
