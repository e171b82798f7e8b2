"""Self-training: a teacher trained on the k labelled examples labels the unlabelled rest of
the training split; the predictions at or above a confidence threshold join the labelled
examples, and a student trained from the same starting point on both is the cell's model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bench.data.splits import Encoded


@dataclass(frozen=True)
class PseudoLabels:
    """The pool examples kept, their predicted labels and confidences."""

    indices: list[int]
    labels: list[int]
    confidences: list[float]
    pool_size: int


def select_pseudo_labels(probs: list[list[float]], threshold: float) -> PseudoLabels:
    """Every pool example whose most probable class has probability >= `threshold`."""
    indices, labels, confidences = [], [], []
    for i, p in enumerate(probs):
        best = max(range(len(p)), key=p.__getitem__)
        if p[best] >= threshold:
            indices.append(i)
            labels.append(best)
            confidences.append(p[best])
    return PseudoLabels(indices, labels, confidences, len(probs))


def with_pseudo_labels(labelled: Encoded, pool: Encoded, picks: PseudoLabels) -> Encoded:
    """The labelled examples followed by the kept pool examples under their pseudo-labels."""
    return Encoded(
        input_ids=labelled.input_ids + [pool.input_ids[i] for i in picks.indices],
        labels=list(labelled.labels) + picks.labels,
    )


def summary(
    picks: PseudoLabels,
    threshold: float,
    true_labels: list[Any],
    teacher: dict[str, float],
    label_count: int,
) -> dict[str, Any]:
    """What the record keeps. The pool's true labels are read here only, after training, to
    report how often the kept pseudo-labels were right (a diagnostic, never trained on)."""
    kept = len(picks.indices)
    right = sum(true_labels[i] == y for i, y in zip(picks.indices, picks.labels, strict=True))
    per_class = [picks.labels.count(k) for k in range(label_count)]
    return {
        "threshold": threshold,
        "pool": picks.pool_size,
        "kept": kept,
        "kept_fraction": kept / picks.pool_size if picks.pool_size else 0.0,
        "kept_per_class": per_class,
        "pseudo_label_accuracy": right / kept if kept else None,
        "mean_confidence": sum(picks.confidences) / kept if kept else None,
        "teacher_validation": teacher,
    }
