"""Cleaning, deduplication, the fixed stratified split, tokenization and deterministic batches."""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.model_selection import train_test_split

SPLIT_SEED = 1234  # the split never changes with the cell's seed


@dataclass(frozen=True)
class RawData:
    """Labelled texts as a task loads them (before cleaning and splitting)."""

    texts: list[str]
    labels: list[int]
    label_names: tuple[str, ...]


@dataclass(frozen=True)
class Split:
    """Train / validation / test texts and labels, with the hash that identifies them."""

    train: tuple[list[str], list[int]]
    validation: tuple[list[str], list[int]]
    test: tuple[list[str], list[int]]
    label_names: tuple[str, ...]
    dropped: dict[str, int]

    @property
    def hash(self) -> str:
        digest = hashlib.sha256()
        for part in ("train", "validation", "test"):
            texts, labels = getattr(self, part)
            digest.update(f"#{part}\n".encode())
            for text, label in zip(texts, labels, strict=True):
                digest.update(f"{label}\t{text}\n".encode())
        return digest.hexdigest()[:16]

    def distribution(self) -> dict[str, dict[str, int]]:
        """Label counts per part, by label name."""
        out = {}
        for part in ("train", "validation", "test"):
            counts = Counter(getattr(self, part)[1])
            out[part] = {
                self.label_names[k]: counts.get(k, 0) for k in range(len(self.label_names))
            }
        return out


_TAG = re.compile(r"<[^>]{1,40}>")
_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Unescape HTML entities, drop tag remnants, collapse whitespace."""
    text = html.unescape(text)
    text = _TAG.sub(" ", text)
    return _SPACE.sub(" ", text).strip()


def deduplicate(texts: list[str], labels: list[int]) -> tuple[list[str], list[int], dict[str, int]]:
    """Keep one copy of each text (case-insensitive); drop texts seen with conflicting labels."""
    seen: dict[str, set[int]] = {}
    first: dict[str, tuple[str, int]] = {}
    empty = 0
    for text, label in zip(texts, labels, strict=True):
        text = clean_text(text)
        if not text:
            empty += 1
            continue
        key = text.lower()
        seen.setdefault(key, set()).add(label)
        first.setdefault(key, (text, label))
    conflicting = {k for k, v in seen.items() if len(v) > 1}
    kept = [first[k] for k in first if k not in conflicting]  # insertion order: deterministic
    dropped = {
        "empty": empty,
        "duplicates": len(texts) - empty - len(first),
        "conflicting_texts": len(conflicting),
    }
    return [t for t, _ in kept], [label for _, label in kept], dropped


def make_split(raw: RawData, val_size: int, test_size: int, train_size: int | None = None) -> Split:
    """Clean, deduplicate, then split stratified with a fixed seed; cap the train part last."""
    texts, labels, dropped = deduplicate(raw.texts, raw.labels)
    idx = np.arange(len(texts))
    rest, test_idx = train_test_split(
        idx, test_size=test_size, stratify=labels, random_state=SPLIT_SEED
    )
    rest_labels = [labels[i] for i in rest]
    train_idx, val_idx = train_test_split(
        rest, test_size=val_size, stratify=rest_labels, random_state=SPLIT_SEED
    )
    if train_size is not None and train_size < len(train_idx):
        train_labels = [labels[i] for i in train_idx]
        train_idx, _ = train_test_split(
            train_idx, train_size=train_size, stratify=train_labels, random_state=SPLIT_SEED
        )

    def take(ids: np.ndarray) -> tuple[list[str], list[int]]:
        ids = np.sort(ids)
        return [texts[i] for i in ids], [labels[i] for i in ids]

    return Split(
        train=take(train_idx),
        validation=take(val_idx),
        test=take(test_idx),
        label_names=raw.label_names,
        dropped=dropped,
    )


@dataclass
class Encoded:
    """Token ids (unpadded lists) and labels of one split part."""

    input_ids: list[list[int]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.labels)


def encode(tokenizer: Any, texts: list[str], labels: list[int], max_length: int) -> Encoded:
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return Encoded(input_ids=[list(x) for x in ids], labels=list(labels))


def collate(
    encoded: Encoded, indices: list[int], pad_id: int, padding_side: str = "right"
) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest member; the attention mask marks the real tokens."""
    rows = [encoded.input_ids[i] for i in indices]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, row in enumerate(rows):
        if padding_side == "left":
            ids[j, width - len(row) :] = torch.tensor(row)
            mask[j, width - len(row) :] = 1
        else:
            ids[j, : len(row)] = torch.tensor(row)
            mask[j, : len(row)] = 1
    labels = torch.tensor([encoded.labels[i] for i in indices], dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def batch_order(n: int, batch_size: int, epochs: float, seed: int) -> list[list[int]]:
    """Shuffled index batches for `epochs` passes (the last pass may be partial), seeded."""
    generator = torch.Generator().manual_seed(seed)
    total = int(round(n * epochs))
    order: list[int] = []
    while len(order) < total:
        order.extend(torch.randperm(n, generator=generator).tolist())
    order = order[:total]
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
