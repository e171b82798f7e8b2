"""The compute of one serving forward pass, counted (not timed): what an adapter's placement or
a prompt's extra tokens add, free of the timing noise of a shared machine."""

from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@torch.no_grad()
def forward_flops(model: nn.Module, batch: dict[str, torch.Tensor]) -> int:
    """FLOPs of the model's forward pass on `batch`, as torch's FlopCounterMode counts them
    (matrix products and attention; element-wise work, such as a sparse delta's addition or an
    activation, counts nothing)."""
    was_training = model.training
    model.eval()
    counter = FlopCounterMode(display=False)
    with counter:
        model(**batch)
    model.train(was_training)
    return int(counter.get_total_flops())
