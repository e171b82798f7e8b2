"""Synthetic text with a learnable rule: no download, for tests and for speed/memory runs."""

from __future__ import annotations

import random

from bench.core.registry import register_task
from bench.data.splits import RawData

KEYWORDS = ("red", "green", "blue")
FILLER = tuple(f"w{i}" for i in range(40))


@register_task(
    "synthetic_rule",
    kind="classification",
    labels=KEYWORDS,
    metric="accuracy",
    metrics=("accuracy", "macro_f1"),
    source="synthetic: random filler words, the label is the one colour word in the text",
    val_size=100,
    test_size=200,
    size=1200,
    general_text="synthetic_words",
)
def load_synthetic_rule() -> RawData:
    """1,200 texts of 6-12 filler words with one colour word that decides the label."""
    rng = random.Random(0)
    texts, labels = [], []
    for _ in range(1200):
        label = rng.randrange(len(KEYWORDS))
        words = [rng.choice(FILLER) for _ in range(rng.randint(6, 12))]
        words.insert(rng.randrange(len(words) + 1), KEYWORDS[label])
        texts.append(" ".join(words))
        labels.append(label)
    return RawData(texts=texts, labels=labels, label_names=KEYWORDS)


@register_task(
    "synthetic_reverse",
    kind="generation",
    labels=("short", "long"),
    metric="rouge_l",
    metrics=("rouge_l", "bleu", "perplexity"),
    source="synthetic: 3-6 filler words; the response is the same words in reverse order",
    val_size=50,
    test_size=50,
    size=600,
    max_new_tokens=24,
    general_text="synthetic_words",
)
def load_synthetic_reverse() -> RawData:
    """600 prompts of 3-6 filler words whose response reverses them (stratified by length)."""
    rng = random.Random(1)
    prompts, responses, strata = [], [], []
    for _ in range(600):
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 6))]
        prompts.append(" ".join(words))
        responses.append(" ".join(reversed(words)))
        strata.append(int(len(words) > 4))
    return RawData(texts=prompts, labels=strata, label_names=("short", "long"), responses=responses)


FIXED_TEXT_CHARS = 4096  # longer than any max_length: the byte tokenizer makes one id a byte


@register_task(
    "fixed_tokens",
    kind="generation",
    labels=("all",),
    metric="perplexity",
    metrics=("perplexity",),
    source=(
        "synthetic workload: a short random prompt and a random 4,096-character response, so "
        "every sequence fills max_length; for memory, speed and energy, not quality"
    ),
    val_size=16,
    test_size=16,
    size=1032,
    max_new_tokens=1,
    general_text="synthetic_words",
)
def load_fixed_tokens() -> RawData:
    """1,032 random prompt / response pairs of printable characters (seeded, fixed)."""
    rng = random.Random(2)
    alphabet = [chr(c) for c in range(33, 127)]
    prompts, responses = [], []
    for _ in range(1032):
        prompts.append("".join(rng.choices(alphabet, k=8)))
        responses.append("".join(rng.choices(alphabet, k=FIXED_TEXT_CHARS)))
    return RawData(
        texts=prompts, labels=[0] * len(prompts), label_names=("all",), responses=responses
    )


@register_task(
    "synthetic_prefs",
    kind="preference",
    labels=("short", "long"),
    metric="reward_accuracy",
    metrics=("reward_accuracy", "reward_margin"),
    source=(
        "synthetic: 3-6 filler words; the chosen response reverses them, the rejected one "
        "repeats them in order"
    ),
    val_size=50,
    test_size=50,
    size=600,
    general_text="synthetic_words",
)
def load_synthetic_prefs() -> RawData:
    """synthetic_reverse's prompts as pairs: the reversal preferred to the echo."""
    reverse = load_synthetic_reverse()
    return RawData(
        texts=reverse.texts,
        labels=reverse.labels,
        label_names=reverse.label_names,
        responses=reverse.responses,
        rejected=list(reverse.texts),
    )


SYNTHETIC_ENTITIES = {"per": ("alice", "bob", "carol smith"), "loc": ("paris", "new york")}
SYNTHETIC_TAGS = ("O", "B-per", "I-per", "B-loc", "I-loc")


@register_task(
    "synthetic_tokens",
    kind="token",
    labels=SYNTHETIC_TAGS,
    metric="entity_f1",
    metrics=("entity_f1", "entity_precision", "entity_recall", "token_accuracy"),
    source="synthetic: 3-6 filler words with 0-2 names of people or places (IOB2 tags)",
    val_size=50,
    test_size=50,
    size=600,
    general_text="synthetic_words",
)
def load_synthetic_tokens() -> RawData:
    """600 sentences of filler words with 0-2 entities (one or two words each) tagged IOB2."""
    rng = random.Random(3)
    texts, tags, strata = [], [], []
    for _ in range(600):
        words = [rng.choice(FILLER) for _ in range(rng.randint(3, 6))]
        sentence_tags = ["O"] * len(words)
        for _ in range(rng.randint(0, 2)):
            kind = rng.choice(sorted(SYNTHETIC_ENTITIES))
            name = rng.choice(SYNTHETIC_ENTITIES[kind]).split(" ")
            at = rng.randint(0, len(words))
            words[at:at] = name
            sentence_tags[at:at] = [f"B-{kind}"] + [f"I-{kind}"] * (len(name) - 1)
        texts.append(" ".join(words))
        tags.append(" ".join(sentence_tags))
        strata.append(int(any(t != "O" for t in sentence_tags)))
    return RawData(texts=texts, labels=strata, label_names=("no entity", "entity"), tags=tags)
