"""Cleaning, deduplication, the fixed stratified split, tokenization and deterministic batches."""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from bench.core.vocab import BALANCE

if TYPE_CHECKING:  # torch and scikit-learn load where data is split and batched
    import torch

SPLIT_SEED = 1234  # the split never changes with the cell's seed
IGNORE = -100  # the label id that transformers' loss skips (prompt and padding tokens)


@dataclass(frozen=True)
class RawData:
    """Examples as a task loads them (before cleaning and splitting).

    `labels` are class indices (classification), scores (regression) or topic indices that
    stratify the split (generation); `texts_b` holds the second text of sentence-pair tasks and
    `responses` the target text of generation tasks (a preference task's chosen response, with
    the rejected one in `rejected`). A token task's text is its words joined by single spaces
    and `tags` their tags, joined the same way (one per word); its labels are strata.
    """

    texts: list[str]
    labels: list[Any]
    label_names: tuple[str, ...]
    texts_b: list[str] | None = None
    responses: list[str] | None = None
    rejected: list[str] | None = None
    tags: list[str] | None = None


class Part(NamedTuple):
    """One part of a split; `part[0]` / `part[1]` are the texts and labels."""

    texts: list[str]
    labels: list[Any]
    texts_b: list[str] | None = None
    responses: list[str] | None = None
    rejected: list[str] | None = None
    tags: list[str] | None = None  # a token task's word tags, space-joined like its text

    def __len__(self) -> int:  # type: ignore[override]
        return len(self.labels)

    def rows(self) -> list[tuple[str, Any, str | None, str | None, str | None, str | None]]:
        n = len(self.labels)
        b, r = self.texts_b or [None] * n, self.responses or [None] * n
        rejected, tags = self.rejected or [None] * n, self.tags or [None] * n
        return list(zip(self.texts, self.labels, b, r, rejected, tags, strict=True))


@dataclass(frozen=True)
class Split:
    """Train / validation / test parts, with the hash that identifies them."""

    train: Part
    validation: Part
    test: Part
    label_names: tuple[str, ...]
    dropped: dict[str, int]
    # k-shot splits: the training examples not drawn, whose labels self-training never reads
    unlabelled: Part | None = None
    # a multi-task mixture's components, in order (bench.data.mixture.Block); () for one task
    blocks: tuple[Any, ...] = ()

    @property
    def hash(self) -> str:
        digest = hashlib.sha256()
        for part in ("train", "validation", "test"):
            digest.update(f"#{part}\n".encode())
            for text, label, text_b, response, rejected, tags in getattr(self, part).rows():
                line = f"{label}\t{text}"
                line += f"\t{text_b}" if text_b is not None else ""
                line += f"\t{response}" if response is not None else ""
                line += f"\t{rejected}" if rejected is not None else ""
                line += f"\t{tags}" if tags is not None else ""
                digest.update(f"{line}\n".encode())
        return digest.hexdigest()[:16]

    def distribution(self) -> dict[str, dict[str, int]]:
        """Label counts per part, by label name (regression: score quintiles)."""
        out = {}
        for part in ("train", "validation", "test"):
            labels = getattr(self, part).labels
            if not self.label_names:
                qs = np.quantile(labels, [0, 0.25, 0.5, 0.75, 1]) if labels else []
                out[part] = {"n": len(labels), **{f"q{i * 25}": float(q) for i, q in enumerate(qs)}}
                continue
            counts = Counter(labels)
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
    raw = RawData(texts=list(texts), labels=list(labels), label_names=())
    clean, dropped = _deduplicate(raw)
    return clean.texts, clean.labels, dropped


def _deduplicate(raw: RawData) -> tuple[RawData, dict[str, int]]:
    """Clean every text; drop empty rows and repeats; drop inputs seen with conflicting labels.

    For generation tasks an input with several different responses is kept (they are distinct
    examples); the split keeps all of them in one part. A token task's words are kept as its
    loader gave them (cleaning would move them off their tags); a sentence seen with two
    different taggings is conflicting.
    """
    n = len(raw.texts)
    texts_b = raw.texts_b or [None] * n
    responses = raw.responses or [None] * n
    rejects = raw.rejected or [None] * n
    tagged = raw.tags or [None] * n
    clean = clean_text if raw.tags is None else str.strip
    seen: dict[tuple, set[Any]] = {}
    first: dict[tuple, tuple[str, Any, str | None, str | None, str | None, str | None]] = {}
    empty = 0
    for text, label, text_b, response, rejected, tags in zip(
        raw.texts, raw.labels, texts_b, responses, rejects, tagged, strict=True
    ):
        text = clean(str(text))
        text_b, response, rejected = (
            clean_text(str(x)) if x is not None else None for x in (text_b, response, rejected)
        )
        if not text or "" in (text_b, response, rejected):
            empty += 1
            continue
        key = (text.lower(), (text_b or "").lower(), (response or "").lower())
        key += ((rejected or "").lower(),) if raw.rejected is not None else ()
        seen.setdefault(key, set()).add((label, tags))
        first.setdefault(key, (text, label, text_b, response, rejected, tags))
    conflicting = {k for k, v in seen.items() if len(v) > 1}
    kept = [first[k] for k in first if k not in conflicting]  # insertion order: deterministic
    dropped = {
        "empty": empty,
        "duplicates": n - empty - len(first),
        "conflicting_texts": len(conflicting),
    }
    cleaned = RawData(
        texts=[k[0] for k in kept],
        labels=[k[1] for k in kept],
        label_names=raw.label_names,
        texts_b=[k[2] for k in kept] if raw.texts_b is not None else None,
        responses=[k[3] for k in kept] if raw.responses is not None else None,
        rejected=[k[4] for k in kept] if raw.rejected is not None else None,
        tags=[k[5] for k in kept] if raw.tags is not None else None,
    )
    return cleaned, dropped


def _strata(labels: list[Any], label_names: tuple[str, ...]) -> list[Any]:
    """What the split stratifies on: the class, or the score's quintile for regression."""
    if label_names:
        return list(labels)
    edges = np.quantile(labels, [0.2, 0.4, 0.6, 0.8])
    return np.searchsorted(edges, labels, side="right").tolist()


def make_split(
    raw: RawData,
    val_size: int,
    test_size: int,
    train_size: int | None = None,
    balance: str | None = None,
    shots: int | None = None,
    shot_seed: int = 0,
) -> Split:
    """Clean, deduplicate, then split stratified with a fixed seed; cap the train part last.

    Examples that share an input (a prompt with several responses) form one group, and groups
    are split, so no input is in two parts; sizes count groups. `balance` down- or up-samples
    the training classes to equal counts (seeded, after the cap).
    """
    from sklearn.model_selection import train_test_split

    clean, dropped = _deduplicate(raw)
    groups: dict[tuple[str, str | None], list[int]] = {}
    texts_b = clean.texts_b or [None] * len(clean.texts)
    for i, key in enumerate(zip((t.lower() for t in clean.texts), texts_b, strict=True)):
        groups.setdefault(key, []).append(i)
    members = list(groups.values())
    strata = _strata([clean.labels[m[0]] for m in members], clean.label_names)
    idx = np.arange(len(members))
    rest, test_idx = train_test_split(
        idx, test_size=test_size, stratify=strata, random_state=SPLIT_SEED
    )
    rest_strata = [strata[i] for i in rest]
    train_idx, val_idx = train_test_split(
        rest, test_size=val_size, stratify=rest_strata, random_state=SPLIT_SEED
    )
    if train_size is not None and train_size < len(train_idx):
        train_strata = [strata[i] for i in train_idx]
        train_idx, _ = train_test_split(
            train_idx, train_size=train_size, stratify=train_strata, random_state=SPLIT_SEED
        )

    def take(ids: np.ndarray) -> list[int]:
        return [m for g in np.sort(ids) for m in members[g]]

    train_rows = take(train_idx)
    unlabelled = None
    if shots is not None:
        pool = train_rows
        train_rows = k_shot_rows(train_rows, clean.labels, shots, shot_seed)
        drawn = set(train_rows)
        unlabelled = _part(clean, [r for r in pool if r not in drawn])
    if balance is not None:
        train_rows = balance_rows(train_rows, clean.labels, balance, bool(clean.label_names))
    return Split(
        train=_part(clean, train_rows),
        validation=_part(clean, take(val_idx)),
        test=_part(clean, take(test_idx)),
        label_names=clean.label_names,
        dropped=dropped,
        unlabelled=unlabelled,
    )


def k_shot_rows(rows: list[int], labels: list[Any], k: int, seed: int) -> list[int]:
    """k examples of every class drawn with `seed` (each seed its own draw, as the low-resource
    literature reports the spread over draws); a class with fewer keeps all it has."""
    if k < 1:
        raise ValueError(f"shots must be >= 1, got {k}")
    rng = np.random.default_rng(seed)
    by_class: dict[Any, list[int]] = {}
    for r in rows:
        by_class.setdefault(labels[r], []).append(r)
    out: list[int] = []
    for key in sorted(by_class, key=str):
        members = by_class[key]
        out += members if len(members) <= k else rng.choice(members, k, replace=False).tolist()
    return sorted(out)


def balance_rows(rows: list[int], labels: list[Any], how: str, classes: bool = True) -> list[int]:
    """Down-sample every class to the rarest one's count, or up-sample to the commonest's."""
    if how not in BALANCE:
        raise ValueError(f"balance {how!r} is not one of {', '.join(BALANCE)}")
    if not classes:
        raise ValueError("class balancing needs class labels; this task has none")
    rng = np.random.default_rng(SPLIT_SEED)
    by_class: dict[Any, list[int]] = {}
    for r in rows:
        by_class.setdefault(labels[r], []).append(r)
    sizes = [len(v) for v in by_class.values()]
    target = min(sizes) if how == "down" else max(sizes)
    out: list[int] = []
    for members in by_class.values():
        if len(members) >= target:
            out += rng.choice(members, size=target, replace=False).tolist()
        else:
            out += members + rng.choice(members, size=target - len(members), replace=True).tolist()
    return sorted(out)


def _part(raw: RawData, rows: list[int]) -> Part:
    return Part(
        texts=[raw.texts[i] for i in rows],
        labels=[raw.labels[i] for i in rows],
        texts_b=[raw.texts_b[i] for i in rows] if raw.texts_b is not None else None,
        responses=[raw.responses[i] for i in rows] if raw.responses is not None else None,
        rejected=[raw.rejected[i] for i in rows] if raw.rejected is not None else None,
        tags=[raw.tags[i] for i in rows] if raw.tags is not None else None,
    )


@dataclass
class Encoded:
    """Token ids (unpadded lists) and labels of one split part.

    `labels` are classes, scores (`regression`) or, for generation, the strata; generation
    parts carry `token_labels`, the ids to predict with -100 on every prompt token. Preference
    parts hold the chosen sequences there and the rejected ones in `rejected_ids` and
    `rejected_labels` (one example is one pair).
    """

    input_ids: list[list[int]]
    labels: list[Any]
    token_labels: list[list[int]] | None = None
    regression: bool = False
    rejected_ids: list[list[int]] | None = None
    rejected_labels: list[list[int]] | None = None
    # a mixture's part: each row's component index and each component's [first, end) label ids
    task_ids: list[int] | None = None
    task_spans: list[list[int]] | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def sequences(self, indices: list[int]) -> list[list[int]]:
        """The token rows a batch of these examples holds: a pair's two sequences, chosen
        rows first."""
        rows = [self.input_ids[i] for i in indices]
        if self.rejected_ids is not None:
            rows += [self.rejected_ids[i] for i in indices]
        return rows

    def label_rows(self, indices: list[int]) -> list[list[int]] | None:
        """The token labels of those rows, in the same order (None without token labels)."""
        if self.token_labels is None:
            return None
        rows = [self.token_labels[i] for i in indices]
        if self.rejected_labels is not None:
            rows += [self.rejected_labels[i] for i in indices]
        return rows


def encode(
    tokenizer: Any,
    texts: list[str],
    labels: list[Any],
    max_length: int,
    texts_b: list[str] | None = None,
    regression: bool = False,
) -> Encoded:
    """Tokenize single texts or text pairs (truncating the longer of a pair first)."""
    if texts_b is not None:
        ids = tokenizer(texts, texts_b, truncation="longest_first", max_length=max_length)
    else:
        ids = tokenizer(texts, truncation=True, max_length=max_length)
    return Encoded(
        input_ids=[list(x) for x in ids["input_ids"]], labels=list(labels), regression=regression
    )


PAIR_LABELS = "pair_labels"  # a preference batch's response labels: read by the loss, not the model
LABEL_SPAN = "label_span"  # a mixture batch's [first, end) label ids per row: read by the loss
NOT_INPUTS = (PAIR_LABELS, LABEL_SPAN)


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the model's forward takes of a batch (a preference batch's labels and a mixture
    batch's label spans are for the loss)."""
    return {k: v for k, v in batch.items() if k not in NOT_INPUTS}


def collate(
    encoded: Encoded, indices: list[int], pad_id: int, padding_side: str = "right"
) -> dict[str, torch.Tensor]:
    """Pad a batch to its longest member; the attention mask marks the real tokens. A
    preference batch holds the chosen then the rejected sequences, their response labels
    under PAIR_LABELS."""
    import torch

    rows, label_rows = encoded.sequences(indices), encoded.label_rows(indices)
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    token_labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for j, row in enumerate(rows):
        span = slice(width - len(row), width) if padding_side == "left" else slice(0, len(row))
        ids[j, span] = torch.tensor(row)
        mask[j, span] = 1
        if label_rows is not None:
            token_labels[j, span] = torch.tensor(label_rows[j])
    if encoded.rejected_ids is not None:
        return {"input_ids": ids, "attention_mask": mask, PAIR_LABELS: token_labels}
    if label_rows is not None:
        labels = token_labels
    elif encoded.regression:
        labels = torch.tensor([float(encoded.labels[i]) for i in indices], dtype=torch.float)
    else:
        labels = torch.tensor([encoded.labels[i] for i in indices], dtype=torch.long)
    batch = {"input_ids": ids, "attention_mask": mask, "labels": labels}
    if encoded.task_ids is not None and encoded.task_spans is not None:
        spans = [encoded.task_spans[encoded.task_ids[i]] for i in indices]
        batch[LABEL_SPAN] = torch.tensor(spans, dtype=torch.long)
    return batch


def batch_order(n: int, batch_size: int, epochs: float, seed: int) -> list[list[int]]:
    """Shuffled index batches for `epochs` passes (the last pass may be partial), seeded."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    total = int(round(n * epochs))
    order: list[int] = []
    while len(order) < total:
        order.extend(torch.randperm(n, generator=generator).tolist())
    order = order[:total]
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    """The batch on `device` (asynchronously from pinned host memory)."""
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}
