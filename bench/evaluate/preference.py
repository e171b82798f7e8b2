"""Preference tasks: pairs encoded as two prompt + response sequences, and scored on held-out
pairs (reward accuracy: the chosen response scored above the rejected one; the mean margin)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.data.splits import Encoded, collate, model_inputs, to_device
from bench.evaluate.generation import encode_sft
from bench.regimes.preference import PreferenceObjective


def encode_pairs(
    tokenizer: Any,
    prompts: list[str],
    chosen: list[str],
    rejected: list[str],
    strata: list[Any],
    max_length: int,
) -> Encoded:
    """Each pair as two SFT sequences (the prompt in the model's template, the response and
    end-of-sequence; labels on the response tokens only), cut as encode_sft cuts them."""
    good = encode_sft(tokenizer, prompts, chosen, strata, max_length)
    bad = encode_sft(tokenizer, prompts, rejected, strata, max_length)
    return Encoded(
        input_ids=good.input_ids,
        labels=list(strata),
        token_labels=good.token_labels,
        rejected_ids=bad.input_ids,
        rejected_labels=bad.token_labels,
    )


@torch.no_grad()
def evaluate_pairs(
    objective: PreferenceObjective,
    model: nn.Module,
    encoded: Encoded,
    device: torch.device,
    pad_id: int,
    batch_size: int = 16,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Reward accuracy (a tie counts as wrong, as in trl), mean margin and loss over the pairs,
    and one row per pair; DPO adds how often the reference alone prefers the chosen response
    by log-probability (the base's own preference, before training)."""
    was_training = model.training
    model.eval()
    rows: list[dict[str, Any]] = []
    loss_sum = 0.0
    reference_right = 0
    for start in range(0, len(encoded), batch_size):
        indices = list(range(start, min(start + batch_size, len(encoded))))
        batch = to_device(collate(encoded, indices, pad_id), device)

        scores = objective.scores(model(**model_inputs(batch)), batch)
        loss_sum += float(scores.losses.sum())
        for j, i in enumerate(indices):
            margin = float(scores.chosen[j] - scores.rejected[j])
            extra: dict[str, Any] = {
                "chosen": float(scores.chosen[j]),
                "rejected": float(scores.rejected[j]),
            }
            if scores.reference_chosen is not None and scores.reference_rejected is not None:
                prefers = bool(scores.reference_chosen[j] > scores.reference_rejected[j])
                reference_right += prefers
                extra["reference_prefers_chosen"] = prefers
            rows.append(
                {
                    "idx": i,
                    "label": encoded.labels[i],
                    "pred": float(margin > 0),
                    "score": margin,
                    "extra": extra,
                }
            )
    model.train(was_training)
    n = max(len(rows), 1)
    metrics = {
        "loss": loss_sum / n,
        "reward_accuracy": sum(r["pred"] for r in rows) / n,
        "reward_margin": sum(r["score"] for r in rows) / n,
    }
    if objective.kind == "dpo":
        metrics["reference_accuracy"] = reference_right / n
    return metrics, rows
