"""Exact parameter counts: the method's own trainable parameters, the head's, and the total."""

from __future__ import annotations

import math

from torch import nn

from bench.core.method_api import is_head_parameter


def logical_numel(param: nn.Parameter) -> int:
    """Elements a weight stands for: a packed 4-bit weight counts its unpacked shape."""
    quant_state = getattr(param, "quant_state", None)
    shape = getattr(quant_state, "shape", None)
    if shape is not None:
        return int(math.prod(shape))
    return param.numel()


def count_parameters(model: nn.Module, head_names: list[str]) -> dict[str, float]:
    """Trainable (method and head apart) and total parameters, each tensor counted once."""
    method = head = total = 0
    seen: set[int] = set()
    for name, param in model.named_parameters(remove_duplicate=False):
        if id(param) in seen:
            continue  # tied weights (embeddings shared with an LM head) count once
        if ".original_module." in f".{name}":
            continue  # peft's frozen spare copy of a head it trains: not part of the model
        seen.add(id(param))
        n = logical_numel(param)
        total += n
        if param.requires_grad:
            if is_head_parameter(name, head_names):
                head += n
            else:
                method += n
    trainable = method + head
    return {
        "trainable_params": trainable,
        "method_params": method,
        "head_params": head,
        "total_params": total,
        "trainable_pct": 100.0 * trainable / total if total else 0.0,
        "method_pct": 100.0 * method / total if total else 0.0,
    }
