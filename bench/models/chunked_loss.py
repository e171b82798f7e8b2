"""Chunked cross-entropy for causal LMs: the logits are upcast to fp32 one chunk of tokens at a
time, in the forward and again in the backward, so that no fp32 copy of the whole
(tokens x vocabulary) logits lives through the step: torchtune's CEWithChunkedOutputLoss
(`loss=... num_output_chunks: 8`) gets the same saving only under torch.compile, so it is
written here as an autograd function that runs eagerly, on meta tensors too."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ChunkedCrossEntropy(torch.autograd.Function):
    """Summed cross-entropy of (N, V) logits against N targets (ignore_index skipped), keeping
    for the backward only the logits as they are, the targets and one fp32 log-sum-exp per
    token."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, logits: torch.Tensor, targets: torch.Tensor, chunks: int, ignore_index: int
    ) -> torch.Tensor:
        valid = targets != ignore_index
        safe = torch.where(valid, targets, 0)
        sums, picked = [], []
        for part, target in zip(
            logits.tensor_split(chunks), safe.tensor_split(chunks), strict=True
        ):
            wide = part.float()
            sums.append(torch.logsumexp(wide, dim=-1))
            picked.append(wide.gather(1, target[:, None]).squeeze(1))
        lse = torch.cat(sums)
        losses = torch.where(valid, lse - torch.cat(picked), 0.0)
        ctx.save_for_backward(logits, safe, valid, lse)
        ctx.chunks = chunks
        return losses.sum()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:  # type: ignore[override]
        logits, safe, valid, lse = ctx.saved_tensors
        out = torch.empty_like(logits)
        weight = valid.float() * grad
        parts = zip(
            logits.tensor_split(ctx.chunks),
            safe.tensor_split(ctx.chunks),
            weight.tensor_split(ctx.chunks),
            lse.tensor_split(ctx.chunks),
            out.tensor_split(ctx.chunks),
            strict=True,
        )
        for part, target, scale, total, into in parts:
            probs = torch.exp(part.float() - total[:, None])  # softmax, minus one at the target
            probs.scatter_add_(1, target[:, None], -torch.ones_like(total)[:, None])
            into.copy_(probs * scale[:, None])
        return out, None, None, None


def chunked_causal_lm_loss(chunks: int) -> Any:
    """A drop-in for transformers' ForCausalLMLoss (the same shift, mean and `num_items`)."""

    def loss(
        logits: torch.Tensor,
        labels: torch.Tensor,
        vocab_size: int,
        num_items_in_batch: torch.Tensor | int | None = None,
        ignore_index: int = -100,
        shift_labels: torch.Tensor | None = None,
        **_: Any,
    ) -> torch.Tensor:
        if shift_labels is None:
            labels = nn.functional.pad(labels, (0, 1), value=ignore_index)
            shift_labels = labels[..., 1:].contiguous()
        targets = shift_labels.reshape(-1).to(logits.device)
        total = ChunkedCrossEntropy.apply(
            logits.reshape(-1, vocab_size), targets, chunks, ignore_index
        )
        if num_items_in_batch is None:
            num_items_in_batch = (targets != ignore_index).sum()
        if torch.is_tensor(num_items_in_batch):
            num_items_in_batch = num_items_in_batch.to(total.device)
        return total / num_items_in_batch

    return loss


def use_chunked_loss(model: nn.Module, chunks: int) -> None:
    """Make the causal LM inside `model` (wrapped by peft or not) compute its loss in chunks;
    ValueError where there is none (a classifier's loss has no vocabulary to chunk)."""
    from transformers import GenerationMixin, PreTrainedModel

    for module in model.modules():
        if isinstance(module, PreTrainedModel) and isinstance(module, GenerationMixin):
            module.loss_function = chunked_causal_lm_loss(chunks)
            return
    raise ValueError(
        f"loss_chunks {chunks}: chunked cross-entropy is for a causal LM's loss over its "
        f"vocabulary; {type(model).__name__} has no causal LM (use a generation task)"
    )
