"""Task metrics computed from stored per-example predictions (scikit-learn does the maths)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
    recall_score,
)

METRICS: dict[str, Callable[[Sequence[int], Sequence[int]], float]] = {
    "accuracy": lambda y, p: float(accuracy_score(y, p)),
    "macro_f1": lambda y, p: float(f1_score(y, p, average="macro", zero_division=0)),
    "mcc": lambda y, p: float(matthews_corrcoef(y, p)),
    "balanced_accuracy": lambda y, p: float(balanced_accuracy_score(y, p)),
}


def per_class_recall(
    labels: Sequence[int], preds: Sequence[int], names: Sequence[str]
) -> dict[str, float]:
    """Recall of every class (what imbalanced data hides behind accuracy)."""
    values = recall_score(
        labels, preds, labels=list(range(len(names))), average=None, zero_division=0
    )
    return {name: float(v) for name, v in zip(names, values, strict=True)}


def compute_metrics(
    names: Sequence[str], labels: Sequence[int], preds: Sequence[int]
) -> dict[str, float]:
    """Every named metric on (labels, predictions)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(sorted(METRICS))}")
    return {name: METRICS[name](labels, preds) for name in names}


def majority_baseline(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Accuracy of always predicting the most frequent training label."""
    majority = max(set(train_labels), key=list(train_labels).count)
    return sum(1 for y in test_labels if y == majority) / max(len(test_labels), 1)
