"""Sparse fine-tuning, ours: a fixed fraction of each weight trains, the rest stays frozen."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext, is_head_parameter, train_only
from bench.core.registry import register_method
from bench.core.settings import FRACTION, POSITIVE_INT, ROLES, one_of
from bench.models.sources import resolve_targets

if TYPE_CHECKING:
    import torch
    from torch import nn

SELECTIONS = ("magnitude", "random", "gradient", "fisher")
SCORED = ("gradient", "fisher")


@cache
def sparse_delta_module() -> type[nn.Module]:
    """The SparseDelta class, defined on first use: listing the methods needs no torch."""
    import torch
    from torch import nn

    class SparseDelta(nn.Module):
        """weight = frozen weight + a trained delta at k fixed positions (a parametrization)."""

        def __init__(self, index: torch.Tensor) -> None:
            super().__init__()
            self.register_buffer("index", index)
            self.delta = nn.Parameter(torch.zeros(index.numel()))

        def forward(self, weight: torch.Tensor) -> torch.Tensor:
            flat = weight.reshape(-1).index_add(0, self.index, self.delta.to(weight.dtype))
            return flat.view_as(weight)

    return SparseDelta


def choose_positions(
    weight: torch.Tensor,
    k: int,
    selection: str,
    generator: torch.Generator,
    score: torch.Tensor | None = None,
) -> torch.Tensor:
    """Flat indices of the k entries to train."""
    import torch

    if selection == "magnitude":
        return weight.detach().abs().reshape(-1).topk(k).indices.sort().values
    if selection == "random":
        return torch.randperm(weight.numel(), generator=generator)[:k].sort().values
    if selection in SCORED:
        if score is None:
            raise ValueError(f"sparse selection {selection!r} needs gradient scores")
        return score.reshape(-1).topk(k).indices.sort().values
    raise ValueError(f"sparse selection {selection!r} is not one of {', '.join(SELECTIONS)}")


def gradient_scores(
    model: nn.Module, names: list[str], batches: list[dict], fisher: bool
) -> dict[str, torch.Tensor]:
    """Sum over batches of |grad| (gradient) or grad^2 (empirical Fisher) of each weight."""
    import torch

    weights = {n: model.get_submodule(n).weight for n in names}
    for w in weights.values():
        w.requires_grad_(True)
    scores = {n: torch.zeros_like(w) for n, w in weights.items()}
    was_training = model.training
    model.eval()  # scores without dropout: the same mask for the same data
    for batch in batches:
        model.zero_grad(set_to_none=True)
        model(**batch).loss.backward()
        for n, w in weights.items():
            scores[n] += w.grad.detach() ** 2 if fisher else w.grad.detach().abs()
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    return scores


@register_method(
    "sparse",
    family="selective",
    lr=1e-3,
    defaults={
        "fraction": 0.005,
        "selection": "magnitude",
        "targets": "all-linear",
        "score_batches": 4,
    },
    rules={
        "fraction": FRACTION,
        "selection": one_of(*SELECTIONS),
        "targets": ROLES,
        "score_batches": POSITIVE_INT,
    },
    search=("fraction", (0.002, 0.005, 0.01)),
    meta_settings={"selection": "random"},  # scoring reads values; the shapes are the same
)
def sparse(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """Train `fraction` of each target weight's entries: by magnitude, random, |grad| or Fisher."""
    import torch
    from torch.nn.utils import parametrize

    fraction = float(settings["fraction"])
    if not 0 < fraction <= 1:
        raise ValueError(f"sparse: fraction must be in (0, 1], got {fraction}")
    generator = torch.Generator().manual_seed(ctx.seed)
    selection = settings["selection"]
    names = resolve_targets(model, settings["targets"])
    scores: dict[str, torch.Tensor] = {}
    if selection in SCORED:
        if ctx.calibration_batches is None:
            raise ValueError(f"sparse selection {selection!r} needs training batches to score")
        batches = ctx.calibration_batches(int(settings["score_batches"]))
        scores = gradient_scores(model, names, batches, fisher=selection == "fisher")
    train_only(model, lambda n, p: is_head_parameter(n, ctx.head_names))
    sparse_delta = sparse_delta_module()
    for name in names:
        module = model.get_submodule(name)
        k = max(1, round(fraction * module.weight.numel()))
        index = choose_positions(module.weight, k, selection, generator, scores.get(name))
        parametrize.register_parametrization(module, "weight", sparse_delta(index))
        module.parametrizations.weight.original.requires_grad_(False)
    return model
