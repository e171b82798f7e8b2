"""Merging a trained adapter into the base weights, and whether the outputs stay the same."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from bench.data.splits import Encoded, collate, to_device


def merged_copy(
    model: nn.Module, base: Callable[[], nn.Module] | None = None
) -> tuple[nn.Module | None, str]:
    """A merged copy of a peft model (`merge_and_unload`), or of a model whose weights are
    parametrized (a sparse delta: needs `base()`, the fresh base model), and how it was made;
    else None and why there is nothing to merge."""
    from peft import PeftModel
    from torch.nn.utils import parametrize

    if not isinstance(model, PeftModel):
        if base is not None and any(parametrize.is_parametrized(m) for m in model.modules()):
            return merged_parametrizations(model, base()), (
                "each parametrized weight's value (frozen weight plus trained delta) written "
                "into a fresh base"
            )
        return None, "nothing to merge: the trained weights are the model's own"
    if model.peft_config[model.active_adapter].is_prompt_learning:
        return None, "cannot merge: virtual tokens are inputs, not weights"
    twin = copy.deepcopy(model)
    try:
        return twin.merge_and_unload(), "peft merge_and_unload"
    except (ValueError, NotImplementedError, AttributeError, RuntimeError) as exc:
        return None, f"peft cannot merge it: {type(exc).__name__}: {exc}"


@torch.no_grad()
def merged_parametrizations(model: nn.Module, fresh: nn.Module) -> nn.Module:
    """`fresh` (the base, same layers) loaded with the model's state, every parametrized tensor
    replaced by its value: torch's remove_parametrizations would edit the class the original
    shares with any copy of it, so the merged model is built anew."""
    from torch.nn.utils import parametrize

    state = {k: v for k, v in model.state_dict().items() if ".parametrizations." not in k}
    for name, module in model.named_modules():
        if parametrize.is_parametrized(module):
            for tensor in module.parametrizations:
                state[f"{name}.{tensor}" if name else tensor] = getattr(module, tensor).detach()
    fresh.load_state_dict(state, strict=True)
    return fresh.to(next(model.parameters()).device)


@torch.no_grad()
def logits_of(
    model: nn.Module, data: Encoded, device: torch.device, pad_id: int, batch_size: int = 64
) -> torch.Tensor:
    """Every example's output logits (fp32, in order), the model in eval mode."""
    was_training = model.training
    model.eval()
    rows = []
    for start in range(0, len(data), batch_size):
        indices = list(range(start, min(start + batch_size, len(data))))
        out = model(**to_device(collate(data, indices, pad_id), device))
        rows.append(out.logits.float().cpu())
    model.train(was_training)
    return torch.cat(rows)


def output_agreement(before: torch.Tensor, after: torch.Tensor) -> dict[str, Any]:
    """How far two models' logits on the same examples are apart: the largest absolute
    difference and the examples whose predicted class changed."""
    return {
        "examples": int(before.shape[0]),
        "max_abs_logit_diff": float((before - after).abs().max()) if before.numel() else 0.0,
        "flipped": int((before.argmax(-1) != after.argmax(-1)).sum()),
    }
