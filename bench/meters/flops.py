"""Model FLOPs of a training step from the model's structure, and MFU against a card's peak.

Per token, every linear layer costs 2 x in x out multiply-adds forward, as much again for the
gradient of its input when anything upstream trains, and as much again for its weight
gradient only when that weight trains: 6N for full fine-tuning, about 4N for a frozen base
with adapters. Attention adds 2 x 2 x seq x width per layer forward (QK^T and AV, counted over
the full square as FlopCounterMode counts SDPA), twice that backward when its inputs need
gradients. Embedding lookups are not matmuls and count nothing. Written here because no
library gives training FLOPs for a partly frozen model; the test checks it against
torch.utils.flop_counter.FlopCounterMode.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn

from bench.models.sources import is_linear, transformer_blocks


@dataclass(frozen=True)
class StepFlops:
    """FLOPs of one token's training step, split by where they go."""

    forward: float
    input_grads: float
    weight_grads: float
    attention: float

    @property
    def per_token(self) -> float:
        return self.forward + self.input_grads + self.weight_grads + self.attention


def _linear_shape(module: nn.Module) -> tuple[int, int]:
    """(in, out) of a Linear, a bitsandbytes layer or GPT-2's Conv1D."""
    if hasattr(module, "in_features") and hasattr(module, "out_features"):
        return int(module.in_features), int(module.out_features)
    weight = module.weight  # Conv1D: (in, out)
    return int(weight.shape[0]), int(weight.shape[1])


def _attention_width(config: Any) -> tuple[int, int]:
    """(layers, heads x head dim) from a transformers config."""
    layers = int(config.num_hidden_layers)
    heads = int(config.num_attention_heads)
    head_dim = getattr(config, "head_dim", None) or int(config.hidden_size) // heads
    return layers, heads * int(head_dim)


def training_flops_per_token(model: nn.Module, seq_len: int) -> StepFlops:
    """Model FLOPs per (padded) token of one forward + backward on sequences of `seq_len`."""
    forward = input_grads = weight_grads = 0.0
    upstream_trains = False
    try:
        blocks = {id(b) for b in transformer_blocks(model)[1]}
    except ValueError:  # no stack of blocks: no attention term
        blocks = set()
    backward_blocks = 0  # blocks whose attention needs gradients (inputs or weights inside)
    for _, module in model.named_modules():
        if id(module) in blocks and (
            upstream_trains or any(p.requires_grad for p in module.parameters())
        ):
            backward_blocks += 1
        if is_linear(module) or type(module).__name__ in ("Linear4bit", "Linear8bitLt"):
            fan_in, fan_out = _linear_shape(module)
            flops = 2.0 * fan_in * fan_out
            forward += flops
            if upstream_trains:
                input_grads += flops
            weight = getattr(module, "weight", None)
            if weight is not None and weight.requires_grad:
                weight_grads += flops
        if any(p.requires_grad for p in module.parameters(recurse=False)):
            upstream_trains = True  # modules after this one in the forward pass need grads
    config = getattr(model, "config", None)
    attention = 0.0
    if blocks and config is not None and hasattr(config, "num_attention_heads"):
        layers, width = _attention_width(config)
        per_layer = 2.0 * 2.0 * seq_len * width
        attention = per_layer * (layers + 2.0 * backward_blocks)
    return StepFlops(forward, input_grads, weight_grads, attention)


def mfu(flops_per_s: float, peak_flops: float | None) -> float | None:
    """Model FLOPs utilisation: achieved model FLOPs per second over the card's peak."""
    if not peak_flops:
        return None
    return flops_per_s / peak_flops


def peak_flops_for(profile: Any | None, recipe: str, tf32: bool) -> float | None:
    """The dense peak of a GpuProfile at the recipe's matmul dtype (autocast's, else the
    weights'; fp32 runs on TF32 where it is on). None if the card is unknown."""

    from bench.models.precision import dtype_name, get_recipe

    if profile is None:
        return None
    chosen = get_recipe(recipe)
    compute = chosen.autocast or chosen.weights
    name = dtype_name(compute)
    dtype = "tf32" if name == "fp32" and tf32 else name
    tflops = profile.peak_tflops(dtype)
    return tflops * 1e12 if tflops else None
