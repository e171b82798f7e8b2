"""Preference objectives as regimes of any method: a Bradley-Terry reward model on a scalar head,
and DPO (Rafailov et al., 2023) against a frozen reference, which is the base inside the trained
model with the method switched off where that gives the base back (LoRA), else a frozen copy."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.core.registry import METHODS
from bench.core.spec import CellSpec
from bench.data.splits import IGNORE, PAIR_LABELS, model_inputs


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Each row's summed log-probability of its response tokens (labels -100 elsewhere); the
    logits of virtual tokens a prompt method prepends are dropped first."""
    logits = logits[:, -labels.size(1) :].float()
    shifted, targets = logits[:, :-1], labels[:, 1:]
    counted = targets != IGNORE
    picked = torch.gather(shifted.log_softmax(-1), 2, targets.clamp(min=0).unsqueeze(-1)).squeeze(
        -1
    )
    return (picked * counted).sum(-1)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-pair losses -log sigmoid(beta * ((pi_c - ref_c) - (pi_r - ref_r))) and the implicit
    rewards beta * (pi - ref) of chosen and rejected (trl's sigmoid loss without label
    smoothing; written here because trl's lives inside its trainer)."""
    chosen = beta * (policy_chosen - reference_chosen)
    rejected = beta * (policy_rejected - reference_rejected)
    return -F.logsigmoid(chosen - rejected), chosen.detach(), rejected.detach()


def reward_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """Bradley-Terry: -log sigmoid(r_chosen - r_rejected) per pair."""
    return -F.logsigmoid(chosen - rejected)


@dataclass
class Reference:
    """DPO's frozen reference: `adapter-off` runs the trained model with its method switched
    off (no second copy of the weights); `copy` runs a second, frozen model."""

    strategy: str
    model: nn.Module

    @property
    def nbytes(self) -> int:
        """What the reference adds to the cell's memory: a copy's weights and buffers."""
        if self.strategy == "adapter-off":
            return 0
        tensors = [*self.model.parameters(), *self.model.buffers()]
        return sum(t.numel() * t.element_size() for t in tensors)

    @torch.no_grad()
    def logprobs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        switched_off = (
            self.model.disable_adapter()  # type: ignore[operator]
            if self.strategy == "adapter-off"
            else contextlib.nullcontext()
        )
        with switched_off:
            logits = self.model(**model_inputs(batch)).logits
        return sequence_logprobs(logits, batch[PAIR_LABELS])


def frozen(model: nn.Module) -> nn.Module:
    """A reference copy: evaluation mode, no gradients."""
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    return model


@dataclass
class PairScores:
    """What a batch of pairs gives: the scores whose difference is the preference (the reward
    head's, or DPO's implicit rewards) and the loss per pair."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    losses: torch.Tensor
    reference_chosen: torch.Tensor | None = None  # DPO: the reference's log-probabilities
    reference_rejected: torch.Tensor | None = None


class PreferenceObjective:
    """A preference cell's loss: `objective(outputs, batch, indices)` for the training loop,
    `scores(outputs, batch)` for the loop and for evaluation."""

    def __init__(self, kind: str, beta: float, reference: Reference | None) -> None:
        if kind == "dpo" and reference is None:
            raise ValueError("DPO needs a reference model")
        self.kind, self.beta, self.reference = kind, beta, reference

    def scores(self, outputs: Any, batch: dict[str, torch.Tensor]) -> PairScores:
        pairs = batch["input_ids"].size(0) // 2
        if self.kind == "reward":
            rewards = outputs.logits.float().squeeze(-1)
            chosen, rejected = rewards[:pairs], rewards[pairs:]
            return PairScores(chosen.detach(), rejected.detach(), reward_loss(chosen, rejected))
        assert self.reference is not None
        policy = sequence_logprobs(outputs.logits, batch[PAIR_LABELS])
        reference = self.reference.logprobs(batch)
        losses, chosen, rejected = dpo_loss(
            policy[:pairs], policy[pairs:], reference[:pairs], reference[pairs:], self.beta
        )
        return PairScores(chosen, rejected, losses, reference[:pairs], reference[pairs:])

    def objective(
        self, outputs: Any, batch: dict[str, torch.Tensor], indices: list[int]
    ) -> torch.Tensor:
        return self.scores(outputs, batch).losses.mean()

    def record(self) -> dict[str, Any]:
        return {
            "objective": self.kind,
            "beta": self.beta if self.kind == "dpo" else None,
            "reference": self.reference.strategy if self.reference is not None else None,
            "reference_bytes": self.reference.nbytes if self.reference is not None else None,
        }


def reference_strategy(spec: CellSpec) -> str | None:
    """What a DPO cell compares against: `adapter-off` (the base inside the trained model, no
    second copy) or `copy` (a frozen second model); None for a reward model."""
    if spec.preference_objective != "dpo":
        return None
    if spec.dpo_reference == "auto" and METHODS.get(spec.method).base_when_disabled:
        return "adapter-off"
    return "copy"
