"""Token tasks (sequence labelling): words aligned to sub-word tokens, tags predicted per word,
and entity-level scores with seqeval, kept per sentence as counts that add up."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from bench.data.splits import IGNORE, Encoded, collate, to_device
from bench.evaluate.metrics import ENTITY_CODE


def encode_words(
    tokenizer: Any,
    texts: Sequence[str],
    tags: Sequence[str],
    strata: Sequence[Any],
    tag_names: Sequence[str],
    max_length: int,
) -> Encoded:
    """Each sentence's words (split on single spaces) as sub-word tokens; the first token of a
    word carries its tag's id, every other token (the rest of a word, special tokens) -100, as
    transformers' token classification examples do. Words cut off by `max_length` carry none."""
    index = {name: i for i, name in enumerate(tag_names)}
    words = [_tokenizable(tokenizer, text.split(" ")) for text in texts]
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    token_labels = []
    for row, sentence_tags in enumerate(tags):
        ids = [index[t] for t in sentence_tags.split(" ")]
        labels, previous = [], None
        for word in encoded.word_ids(row):
            labels.append(ids[word] if word is not None and word != previous else IGNORE)
            previous = word
        token_labels.append(labels)
    return Encoded(
        input_ids=[list(x) for x in encoded["input_ids"]],
        labels=list(strata),
        token_labels=token_labels,
    )


def _tokenizable(tokenizer: Any, words: list[str]) -> list[str]:
    """The words with any that the tokenizer turns into no token at all (a lone control or
    zero-width character) replaced by its unknown token, so that every word keeps a tag."""
    pieces = tokenizer(words, is_split_into_words=True, add_special_tokens=False).word_ids()
    present = set(pieces)
    if len(present) == len(words):
        return words
    return [w if i in present else tokenizer.unk_token for i, w in enumerate(words)]


@torch.no_grad()
def predict_tags(
    model: nn.Module,
    data: Encoded,
    device: torch.device,
    pad_id: int,
    batch_size: int = 64,
) -> tuple[list[list[int]], float]:
    """Each sentence's predicted tag id per labelled word (its first token's argmax), in word
    order, and the mean loss over the sentences."""
    was_training = model.training
    model.eval()
    out: list[list[int]] = [[] for _ in range(len(data))]
    loss_sum = 0.0
    for start in range(0, len(data), batch_size):
        indices = list(range(start, min(start + batch_size, len(data))))
        batch = to_device(collate(data, indices, pad_id), device)
        result = model(**batch)
        loss_sum += float(result.loss) * len(indices)
        best = result.logits.float().argmax(-1).cpu()
        labels = batch["labels"].cpu()
        for j, i in enumerate(indices):
            out[i] = best[j][labels[j] != IGNORE].tolist()
    model.train(was_training)
    return out, loss_sum / max(len(data), 1)


def entity_counts(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, int]:
    """One sentence's entities (seqeval's IOB2 reading, its default mode): in the gold tags,
    in the predicted ones, and in both with the same type and span."""
    from seqeval.metrics.sequence_labeling import get_entities

    truth, guess = set(get_entities(list(gold))), set(get_entities(list(predicted)))
    return {"gold": len(truth), "predicted": len(guess), "right": len(truth & guess)}


def evaluate_tokens(
    model: nn.Module,
    encoded: Encoded,
    tags: Sequence[str],
    tag_names: Sequence[str],
    device: torch.device,
    pad_id: int,
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """Entity precision, recall and F1 (seqeval, over the whole part), word accuracy, loss; one
    row per sentence with its counts. Words past the length cut are predicted `O`."""
    from seqeval.metrics import f1_score, precision_score, recall_score

    predicted_ids, loss = predict_tags(model, encoded, device, pad_id)
    gold_all, guess_all, rows = [], [], []
    right_words = total_words = 0
    for i, (ids, sentence_tags) in enumerate(zip(predicted_ids, tags, strict=True)):
        gold = sentence_tags.split(" ")
        guess = [tag_names[t] for t in ids] + ["O"] * (len(gold) - len(ids))
        counts = entity_counts(gold, guess)
        right_words += sum(g == p for g, p in zip(gold, guess, strict=True))
        total_words += len(gold)
        gold_all.append(gold)
        guess_all.append(guess)
        rows.append(
            {
                "idx": i,
                "label": counts["gold"],
                "pred": counts["right"] * ENTITY_CODE + counts["predicted"],
                "score": None,
                "extra": {"predicted": " ".join(guess), **counts},
            }
        )
    metrics = {
        "loss": loss,
        "entity_f1": float(f1_score(gold_all, guess_all, zero_division=0)),
        "entity_precision": float(precision_score(gold_all, guess_all, zero_division=0)),
        "entity_recall": float(recall_score(gold_all, guess_all, zero_division=0)),
        "token_accuracy": right_words / max(total_words, 1),
    }
    return metrics, rows
