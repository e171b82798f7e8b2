"""Generation (SFT) tasks: prompt formatting, response-only labels, losses and greedy decoding."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.data.splits import IGNORE, Encoded, collate

PLAIN_TEMPLATE = "### Prompt:\n{prompt}\n### Response:\n"


def prompt_text(tokenizer: Any, prompt: str) -> str:
    """The prompt as the model expects it: its chat template, or a plain one without a template."""
    if getattr(tokenizer, "chat_template", None):
        messages = [{"role": "user", "content": prompt}]
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return PLAIN_TEMPLATE.format(prompt=prompt)


def prompt_ids(tokenizer: Any, prompt: str) -> list[int]:
    """Token ids of the formatted prompt (the template carries its own special tokens)."""
    return tokenizer(prompt_text(tokenizer, prompt), add_special_tokens=False)["input_ids"]


def encode_sft(
    tokenizer: Any,
    prompts: list[str],
    responses: list[str],
    strata: list[Any],
    max_length: int,
) -> Encoded:
    """Prompt + response + end-of-sequence; the labels mask every prompt token with -100.

    A long prompt keeps its last `max_length // 2` tokens; the response is cut to what is left.
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError("a generation task needs a tokenizer with an end-of-sequence token")
    input_ids, token_labels = [], []
    for prompt, response in zip(prompts, responses, strict=True):
        p = prompt_ids(tokenizer, prompt)
        r = tokenizer(response, add_special_tokens=False)["input_ids"] + [eos]
        p = p[-(max_length // 2) :]
        r = r[: max(max_length - len(p), 1)]
        input_ids.append(p + r)
        token_labels.append([IGNORE] * len(p) + r)
    return Encoded(input_ids=input_ids, labels=list(strata), token_labels=token_labels)


@torch.no_grad()
def response_losses(
    model: nn.Module, data: Encoded, device: torch.device, pad_id: int, batch_size: int = 16
) -> list[tuple[float, int]]:
    """(summed negative log-likelihood, number of response tokens) of every example."""
    was_training = model.training
    model.eval()
    out: list[tuple[float, int]] = []
    for start in range(0, len(data), batch_size):
        indices = list(range(start, min(start + batch_size, len(data))))
        batch = {k: v.to(device) for k, v in collate(data, indices, pad_id).items()}
        labels = batch.pop("labels")
        logits = model(**batch).logits.float()
        logits = logits[:, -labels.size(1) :]  # prompt tuning prepends virtual-token positions
        shift_logits, shift_labels = logits[:, :-1], labels[:, 1:]
        nll = F.cross_entropy(
            shift_logits.reshape(-1, shift_logits.size(-1)),
            shift_labels.reshape(-1),
            ignore_index=IGNORE,
            reduction="none",
        ).view(shift_labels.shape)
        counted = shift_labels != IGNORE
        for row_nll, row_mask in zip(nll, counted, strict=True):
            out.append((float(row_nll[row_mask].sum()), int(row_mask.sum())))
    model.train(was_training)
    return out


def token_loss(losses: list[tuple[float, int]]) -> dict[str, float]:
    """Mean loss per response token over all examples, and its perplexity."""
    total = sum(s for s, _ in losses)
    tokens = sum(n for _, n in losses)
    loss = total / max(tokens, 1)
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


@torch.no_grad()
def generate(
    model: nn.Module,
    tokenizer: Any,
    prompts: list[str],
    device: torch.device,
    max_new_tokens: int,
    batch_size: int = 16,
) -> list[str]:
    """Greedy continuations of `prompts` (left-padded batches), decoded without the prompt."""
    from transformers import GenerationConfig

    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    was_training = model.training
    model.eval()
    texts: list[str] = []
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start : start + batch_size]
        ids = [prompt_ids(tokenizer, p) for p in chunk]
        batch = collate(Encoded(ids, [0] * len(ids)), list(range(len(ids))), pad_id, "left")
        batch.pop("labels")
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model.generate(**batch, generation_config=config)
        new_tokens = out[:, batch["input_ids"].shape[1] :]
        texts += [t.strip() for t in tokenizer.batch_decode(new_tokens, skip_special_tokens=True)]
    model.train(was_training)
    return texts
