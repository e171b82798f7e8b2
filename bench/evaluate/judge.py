"""A reward model as a judge: the scalar it gives a (prompt, response), and a policy's win rate
over a baseline's replies to the same prompts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from scipy.stats import binomtest
from torch import nn

from bench.data.splits import collate, to_device
from bench.evaluate.generation import encode_sft


@torch.no_grad()
def rewards(
    model: nn.Module,
    tokenizer: Any,
    prompts: Sequence[str],
    responses: Sequence[str],
    max_length: int,
    device: torch.device,
    batch_size: int = 16,
) -> list[float]:
    """The reward head's scalar for each prompt and response, encoded as the reward model was
    trained (the prompt in the template, the response, end-of-sequence, cut to `max_length`)."""
    encoded = encode_sft(tokenizer, list(prompts), list(responses), [0] * len(prompts), max_length)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    was_training = model.training
    model.eval()
    out: list[float] = []
    for start in range(0, len(encoded), batch_size):
        indices = list(range(start, min(start + batch_size, len(encoded))))
        batch = collate(encoded, indices, pad_id)
        batch.pop("labels")  # the response tokens, which a reward head takes no loss on here
        out += model(**to_device(batch, device)).logits.float().squeeze(-1).tolist()
    model.train(was_training)
    return out


def ensemble(per_judge: Sequence[Sequence[float]]) -> list[float]:
    """The judges' mean reward of each reply (one judge: its own rewards)."""
    return [sum(values) / len(values) for values in zip(*per_judge, strict=True)]


def win_rate(
    policy_rewards: Sequence[float],
    base_rewards: Sequence[float],
    policy_texts: Sequence[str],
    base_texts: Sequence[str],
) -> dict[str, Any]:
    """Wins, losses and ties of the policy's replies against the baseline's on the same prompts
    (identical replies tie whatever the judge says), the win rate counting a tie as half, and
    the two-sided exact sign test of wins against losses (ties left out): whether the judge
    prefers one side's replies more often than the other's on these prompts."""
    wins = losses = ties = 0
    for p, b, p_text, b_text in zip(
        policy_rewards, base_rewards, policy_texts, base_texts, strict=True
    ):
        if p_text.strip() == b_text.strip() or p == b:
            ties += 1
        elif p > b:
            wins += 1
        else:
            losses += 1
    n = wins + losses + ties
    decided = wins + losses
    return {
        "wins": wins,
        "losses": losses,
        "ties": ties,
        "win_rate": (wins + ties / 2) / n if n else float("nan"),
        "sign_p": binomtest(wins, decided, 0.5).pvalue if decided else 1.0,
    }


def pair_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """How often the chosen reply is scored above the rejected one (a tie counts as wrong)."""
    right = sum(c > r for c, r in zip(chosen, rejected, strict=True))
    return right / len(chosen) if chosen else float("nan")
