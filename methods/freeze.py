"""Freeze tuning: train only the top blocks of the network (and the head)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext, is_head_parameter, train_only
from bench.core.registry import register_method
from bench.core.settings import FRACTION, at_least, optional
from bench.models.sources import transformer_blocks

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn


@register_method(
    "freeze",
    family="selective",
    lr=1e-4,
    defaults={"layers": 1, "fraction": None},
    rules={"layers": at_least(0), "fraction": optional(FRACTION)},
    search=("layers", (1, 2, 4)),
)
def freeze(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Train the top `layers` blocks (or the top `fraction` of blocks) and the head; freeze
    the rest (layers 0: the head alone, a linear probe)."""
    stack, blocks = transformer_blocks(model)
    if settings["fraction"] is not None:
        fraction = float(settings["fraction"])
        if not 0 < fraction <= 1:
            raise ValueError(f"freeze: fraction must be in (0, 1], got {fraction}")
        top = max(1, math.ceil(fraction * len(blocks)))
    else:
        top = int(settings["layers"])
    if not 0 <= top <= len(blocks):  # 0: the head alone (a linear probe)
        raise ValueError(f"freeze: layers must be between 0 and {len(blocks)}, got {top}")
    prefixes = tuple(f"{stack}.{i}." for i in range(len(blocks) - top, len(blocks)))
    ctx.info["trained_blocks"] = [p.rstrip(".") for p in prefixes]
    return train_only(
        model, lambda n, p: n.startswith(prefixes) or is_head_parameter(n, ctx.head_names)
    )
