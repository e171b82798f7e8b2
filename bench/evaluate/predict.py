"""Batched predictions of a classifier or regressor over an encoded part."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.data.mixture import masked_logits, task_loss
from bench.data.splits import LABEL_SPAN, Encoded, collate, model_inputs, to_device
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

    For a regression part the prediction is the score and the probabilities are empty; a
    mixture's row is predicted among its own task's labels (the others' probabilities are 0).
    Batches are formed from examples of similar length (each padded to its longest), which
    on 1,000 tweets of 64 tokens at most halves the padded tokens and the time; the outputs
    match in-order batching to float rounding (the attention mask hides the padding).
    """
    was_training = model.training
    model.eval()
    preds: list[Any] = [None] * len(data)
    probs: list[list[float]] = [[] for _ in range(len(data))]
    loss_sum = 0.0
    by_length = sorted(range(len(data)), key=lambda i: len(data.input_ids[i]))
    for start in range(0, len(data), batch_size):
        indices = by_length[start : start + batch_size]
        batch = to_device(collate(data, indices, pad_id), device)
        with autocast_for(device, precision):
            out = model(**model_inputs(batch))
        logits = out.logits.float()
        if LABEL_SPAN in batch:  # a mixture's row is scored over its own task's labels only
            logits = masked_logits(logits, batch[LABEL_SPAN])
        loss_sum += float(task_loss(out, batch)) * len(indices)
        if data.regression:  # one output: the predicted score itself
            for i, score in zip(indices, logits[:, 0].tolist(), strict=True):
                preds[i] = score
            continue
        p = torch.softmax(logits, dim=-1)
        for i, label, row in zip(indices, p.argmax(-1).tolist(), p.cpu().tolist(), strict=True):
            preds[i], probs[i] = label, row
    model.train(was_training)
    return preds, probs, loss_sum / max(len(data), 1)
