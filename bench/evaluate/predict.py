"""Batched predictions of a classifier or regressor over an encoded part."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.data.splits import Encoded, collate, to_device
from bench.models.precision import autocast_for


@torch.no_grad()
def predict(
    model: nn.Module,
    data: Encoded,
    device: torch.device,
    pad_id: int,
    precision: str = "fp32",
    batch_size: int = 64,
) -> tuple[list[Any], list[list[float]], float]:
    """Predicted class, class probabilities and mean loss for every example, in order.

    For a regression part the prediction is the score and the probabilities are empty.
    """
    was_training = model.training
    model.eval()
    preds: list[int] = []
    probs: list[list[float]] = []
    loss_sum = 0.0
    for start in range(0, len(data), batch_size):
        indices = list(range(start, min(start + batch_size, len(data))))
        batch = to_device(collate(data, indices, pad_id), device)
        with autocast_for(device, precision):
            out = model(**batch)
        logits = out.logits.float()
        loss_sum += float(out.loss) * len(indices)
        if data.regression:  # one output: the predicted score itself
            preds.extend(logits[:, 0].tolist())
            probs.extend([] for _ in indices)
            continue
        p = torch.softmax(logits, dim=-1)
        preds.extend(p.argmax(-1).tolist())
        probs.extend(p.cpu().tolist())
    model.train(was_training)
    return preds, probs, loss_sum / max(len(data), 1)
