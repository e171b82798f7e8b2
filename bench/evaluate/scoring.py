"""Scoring a split part by task kind: metrics and the per-example rows the store keeps."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from bench.core.registry import TaskInfo
from bench.data.mixture import Block
from bench.data.splits import Encoded, Part
from bench.evaluate.generation import generate, response_losses, token_loss
from bench.evaluate.metrics import compute_metrics, corpus_bleu, exact_match, rouge_l
from bench.evaluate.mixture_scores import mixture_metrics
from bench.evaluate.predict import predict
from bench.evaluate.preference import evaluate_pairs
from bench.evaluate.token_tags import evaluate_tokens
from bench.regimes.preference import PreferenceObjective


def evaluate_part(
    task: TaskInfo,
    model: nn.Module,
    tokenizer: Any,
    encoded: Encoded,
    part: Part,
    device: torch.device,
    pad_id: int,
    precision: str = "fp32",
    *,
    with_generation: bool = False,
    max_new_tokens: int = 32,
    preference: PreferenceObjective | None = None,
    blocks: tuple[Block, ...] = (),
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """(metrics incl. `loss`, per-example rows); generation decodes only when asked (slow); a
    preference task is scored with its cell's objective; a mixture's `blocks` (its split's)
    score each component on its own rows."""
    if task.kind == "preference":
        if preference is None:
            raise ValueError(f"{task.name} is a preference task: its cell's objective scores it")
        return evaluate_pairs(preference, model, encoded, device, pad_id)
    if task.kind == "token":
        return evaluate_tokens(model, encoded, part.tags or [], task.labels, device, pad_id)
    if task.kind == "generation":
        return _evaluate_generation(
            task, model, tokenizer, encoded, part, device, pad_id, with_generation, max_new_tokens
        )
    preds, probs, loss = predict(model, encoded, device, pad_id, precision)
    if blocks:  # a mixture: every component scored on its own rows
        scores = mixture_metrics(blocks, encoded.task_ids or [], encoded.labels, preds)
    else:
        scores = compute_metrics(task.metrics, encoded.labels, preds)
    metrics = {"loss": loss, **scores}
    rows = [
        {"idx": i, "label": y, "pred": p, "score": max(pr) if pr else None}
        for i, (y, p, pr) in enumerate(zip(encoded.labels, preds, probs, strict=True))
    ]
    return metrics, rows


def _evaluate_generation(
    task: TaskInfo,
    model: nn.Module,
    tokenizer: Any,
    encoded: Encoded,
    part: Part,
    device: torch.device,
    pad_id: int,
    with_generation: bool,
    max_new_tokens: int,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Response-token loss and perplexity; with generation, one row per distinct prompt."""
    losses = response_losses(model, encoded, device, pad_id)
    overall = token_loss(losses)
    metrics = {"loss": overall["loss"], "perplexity": overall["perplexity"]}
    if not with_generation:
        return metrics, []
    prompts: dict[str, dict[str, Any]] = {}  # insertion order: the part's order
    for i, (prompt, label, response) in enumerate(
        zip(part.texts, part.labels, part.responses or [], strict=True)
    ):
        entry = prompts.setdefault(prompt, {"label": label, "references": [], "losses": []})
        entry["references"].append(response)
        entry["losses"].append(losses[i])
    hypotheses = generate(model, tokenizer, list(prompts), device, max_new_tokens)
    references = [e["references"] for e in prompts.values()]
    per_rouge = [rouge_l(h, r) for h, r in zip(hypotheses, references, strict=True)]
    per_exact = [exact_match(h, r) for h, r in zip(hypotheses, references, strict=True)]
    every = {"rouge_l": per_rouge, "exact_match": per_exact}
    metrics["bleu"] = corpus_bleu(hypotheses, references)
    metrics["rouge_l"] = sum(per_rouge) / max(len(per_rouge), 1)
    metrics["exact_match"] = sum(per_exact) / max(len(per_exact), 1)
    primary = every.get(task.metric, per_rouge)
    rows = []
    for i, ((prompt, entry), hyp) in enumerate(zip(prompts.items(), hypotheses, strict=True)):
        rows.append(
            {
                "idx": i,
                "label": entry["label"],
                "pred": primary[i],
                "score": token_loss(entry["losses"])["loss"],
                "extra": {
                    "prompt": prompt,
                    "generated": hyp,
                    "references": entry["references"],
                    "rouge_l": per_rouge[i],
                    "exact_match": per_exact[i],
                },
            }
        )
    return metrics, rows
