"""Sparse fine-tuning, ours: a fixed fraction of each weight trains, the rest stays frozen."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils import parametrize

from bench.method_api import MethodContext, is_head_parameter, train_only
from bench.models import resolve_targets
from bench.registry import register_method

SELECTIONS = ("magnitude", "random")


class SparseDelta(nn.Module):
    """weight = frozen weight + a trained delta at k fixed positions (a parametrization)."""

    def __init__(self, index: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("index", index)
        self.delta = nn.Parameter(torch.zeros(index.numel()))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        flat = weight.reshape(-1).index_add(0, self.index, self.delta.to(weight.dtype))
        return flat.view_as(weight)


def choose_positions(
    weight: torch.Tensor, k: int, selection: str, generator: torch.Generator
) -> torch.Tensor:
    """Flat indices of the k entries to train."""
    if selection == "magnitude":
        return weight.detach().abs().reshape(-1).topk(k).indices.sort().values
    if selection == "random":
        return torch.randperm(weight.numel(), generator=generator)[:k].sort().values
    raise ValueError(f"sparse selection {selection!r} is not one of {', '.join(SELECTIONS)}")


@register_method(
    "sparse",
    family="selective",
    lr=1e-3,
    defaults={"fraction": 0.005, "selection": "magnitude", "targets": "all-linear"},
)
def sparse(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Train `fraction` of the entries of each target weight, chosen by magnitude or at random."""
    fraction = float(settings["fraction"])
    if not 0 < fraction <= 1:
        raise ValueError(f"sparse: fraction must be in (0, 1], got {fraction}")
    generator = torch.Generator().manual_seed(ctx.seed)
    train_only(model, lambda n, p: is_head_parameter(n, ctx.head_names))
    for name in resolve_targets(model, settings["targets"]):
        module = model.get_submodule(name)
        k = max(1, round(fraction * module.weight.numel()))
        index = choose_positions(module.weight, k, settings["selection"], generator)
        parametrize.register_parametrization(module, "weight", SparseDelta(index))
        module.parametrizations.weight.original.requires_grad_(False)
    return model
