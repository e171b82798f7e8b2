"""Elastic weight consolidation: a Fisher-weighted pull of the trained parameters to their start.

Written here: peft and transformers have no EWC. The Fisher is the diagonal empirical Fisher of
the next-token loss on general text, in the space of the parameters the method trains (LoRA
factors, adapter weights, or every weight for full fine-tuning), normalised to mean 1 so that
`ewc_lambda` means the same across models; where the model has no LM head it is uniform (L2-SP).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.core.method_api import is_head_parameter
from bench.regimes.forgetting import backbone_and_lm_head, lm_loss_terms, padded_batches


class EWC:
    """`penalty()` = lambda / 2 * sum F * (theta - theta_start)^2 over the trained parameters."""

    def __init__(
        self,
        model: nn.Module,
        head_names: list[str],
        lam: float,
        fisher_ids: list[list[int]],
        pad_id: int,
        device: torch.device,
    ) -> None:
        if lam < 0:
            raise ValueError(f"ewc_lambda must be >= 0, got {lam}")
        self.lam = lam
        self.params = {
            n: p
            for n, p in model.named_parameters()
            if p.requires_grad and not is_head_parameter(n, head_names)
        }
        self.start = {n: p.detach().clone() for n, p in self.params.items()}
        self.fisher, self.kind = self._fisher(model, fisher_ids, pad_id, device)

    def _fisher(
        self, model: nn.Module, ids: list[list[int]], pad_id: int, device: torch.device
    ) -> tuple[dict[str, torch.Tensor], str]:
        body, head = backbone_and_lm_head(model)
        if head is None or not ids:
            ones = {n: torch.ones_like(p) for n, p in self.params.items()}
            return ones, "uniform (the model has no LM head): L2 pull to the start"
        squares = {n: torch.zeros_like(p) for n, p in self.params.items()}
        was_training = model.training
        model.eval()
        # one example at a time: the squared gradient of each, not of a batch mean
        for batch, mask in padded_batches(ids, pad_id, device, size=1):
            model.zero_grad(set_to_none=True)
            loss, n = lm_loss_terms(body, head, batch, mask)
            (loss / n.clamp(min=1)).backward()
            for name, p in self.params.items():
                if p.grad is not None:
                    squares[name] += p.grad.detach() ** 2
        model.zero_grad(set_to_none=True)
        model.train(was_training)
        total = sum(float(s.sum()) for s in squares.values())
        count = sum(s.numel() for s in squares.values())
        mean = total / max(count, 1)
        if mean == 0:
            return {n: torch.ones_like(s) for n, s in squares.items()}, "uniform (zero gradients)"
        return {n: s / mean for n, s in squares.items()}, f"empirical, {len(ids)} texts"

    def penalty(self) -> torch.Tensor:
        total = sum(
            (self.fisher[n] * (p - self.start[n]) ** 2).sum() for n, p in self.params.items()
        )
        return 0.5 * self.lam * total

    def summary(self) -> dict[str, Any]:
        return {
            "ewc_lambda": self.lam,
            "fisher": self.kind,
            "parameters": sum(p.numel() for p in self.params.values()),
            "penalty_end": float(self.penalty().detach()),
        }
