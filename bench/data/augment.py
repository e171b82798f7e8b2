"""EDA (Wei and Zou, 2019) as a regime: each training text gets `copies` augmented copies, each
made by one of four operations at a ratio alpha of its words (synonym replacement, random
insertion of a synonym, random swap, random deletion), seeded by the cell; validation and test
are never touched. By hand: the EDA authors' code is a script, not a package; nlpaug needs
nltk's downloaded WordNet, which an offline machine has not."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from bench.data.splits import Part

OPERATIONS = ("synonym_replacement", "random_insertion", "random_swap", "random_deletion")


def _changes(words: Sequence[str], alpha: float) -> int:
    return max(1, int(alpha * len(words)))


def _replaceable(words: Sequence[str], synonyms: Callable[[str], Sequence[str]]) -> list[int]:
    return [i for i, w in enumerate(words) if w.lower() not in ENGLISH_STOP_WORDS and synonyms(w)]


def synonym_replacement(
    words: list[str], alpha: float, rng: random.Random, synonyms: Callable[[str], Sequence[str]]
) -> list[str]:
    """Up to n words (not stop words) each replaced by one of its synonyms."""
    out = list(words)
    candidates = _replaceable(words, synonyms)
    rng.shuffle(candidates)
    for i in candidates[: _changes(words, alpha)]:
        out[i] = rng.choice(list(synonyms(words[i])))
    return out


def random_insertion(
    words: list[str], alpha: float, rng: random.Random, synonyms: Callable[[str], Sequence[str]]
) -> list[str]:
    """n times: a synonym of a random word (not a stop word) inserted at a random place."""
    out = list(words)
    candidates = _replaceable(words, synonyms)
    if not candidates:
        return out
    for _ in range(_changes(words, alpha)):
        source = words[rng.choice(candidates)]
        out.insert(rng.randint(0, len(out)), rng.choice(list(synonyms(source))))
    return out


def random_swap(
    words: list[str], alpha: float, rng: random.Random, synonyms: Callable[[str], Sequence[str]]
) -> list[str]:
    """n times: two random words swap places."""
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(_changes(words, alpha)):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def random_deletion(
    words: list[str], alpha: float, rng: random.Random, synonyms: Callable[[str], Sequence[str]]
) -> list[str]:
    """Each word deleted with probability alpha; one random word is kept if all would go."""
    if len(words) < 2:
        return list(words)
    kept = [w for w in words if rng.random() >= alpha]
    return kept or [rng.choice(words)]


APPLY = {
    "synonym_replacement": synonym_replacement,
    "random_insertion": random_insertion,
    "random_swap": random_swap,
    "random_deletion": random_deletion,
}


def augmented(
    part: Part,
    alpha: float,
    copies: int,
    seed: int,
    synonyms: Callable[[str], Sequence[str]] | None = None,
) -> tuple[Part, dict[str, Any]]:
    """The training part with `copies` augmented copies of every text after the originals
    (copy k of a text uses operation k mod 4, as EDA spreads its copies over the four), and
    the record: examples before and after, and how many copies each operation made and left
    unchanged (a text with no synonym to replace)."""
    if synonyms is None:
        from bench.data.wordnet import synonyms as wordnet_synonyms

        synonyms = wordnet_synonyms
    rng = random.Random(seed)
    texts, labels = list(part.texts), list(part.labels)
    made: Counter[str] = Counter()
    unchanged: Counter[str] = Counter()
    for text, label in zip(part.texts, part.labels, strict=True):
        words = text.split()
        for k in range(copies):
            operation = OPERATIONS[k % len(OPERATIONS)]
            new = " ".join(APPLY[operation](words, alpha, rng, synonyms))
            made[operation] += 1
            unchanged[operation] += new == text
            texts.append(new)
            labels.append(label)
    record = {
        "alpha": alpha,
        "copies": copies,
        "original_examples": len(part.texts),
        "examples": len(texts),
        "made": dict(made),
        "unchanged": dict(unchanged),
        "synonyms": "WordNet 3.0 (wn 0.0.23 source archive)",
    }
    return Part(texts=texts, labels=labels), record
