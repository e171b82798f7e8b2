"""Task metrics computed from stored per-example predictions (scikit-learn, scipy, sacrebleu and
rouge-score do the maths)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
from scipy import stats
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    matthews_corrcoef,
    mean_squared_error,
    recall_score,
)

LOWER_IS_BETTER = ("mse", "mae", "loss", "perplexity")  # task metrics where less is better


def _mean(_labels: Sequence[float], scores: Sequence[float]) -> float:
    """Generation rows store each example's own score as its prediction: the metric is the mean."""
    return float(np.mean(scores)) if len(scores) else 0.0


def macro_f1(labels: Sequence[int], preds: Sequence[int]) -> float:
    """Macro-F1 over the classes present in labels or predictions, 0 where undefined: exactly
    sklearn's f1_score(average="macro", zero_division=0) (a test holds them equal). By hand
    because sklearn validates its inputs on every call, which made the 1000 resamples of each
    method-level comparison take minutes per report; this is a few bincounts."""
    y = np.asarray(labels, dtype=np.int64)
    p = np.asarray(preds, dtype=np.int64)
    if y.size == 0:
        return 0.0
    k = int(max(y.max(), p.max())) + 1
    hits = np.bincount(y[y == p], minlength=k)
    seen = np.bincount(y, minlength=k) + np.bincount(p, minlength=k)  # 2tp + fp + fn
    present = seen > 0
    return float((2 * hits[present] / seen[present]).mean())


# A token task's sentence row packs its entity counts into one integer (bench.evaluate.
# token_tags): pred = ENTITY_CODE x (entities right) + (entities predicted), label = the gold
# entities. Entity F1 over any resample of sentences is then seqeval's over those sentences.
ENTITY_CODE = 1 << 20


def entity_f1(gold: Sequence[int], packed: Sequence[int]) -> float:
    """Entity F1 from sentence rows: 2 x right / (gold + predicted); 0 with no entities on
    either side, as seqeval's zero_division=0."""
    codes = np.asarray(packed, dtype=np.int64)
    right, predicted = int((codes // ENTITY_CODE).sum()), int((codes % ENTITY_CODE).sum())
    total = int(np.asarray(gold, dtype=np.int64).sum()) + predicted
    return 2 * right / total if total else 0.0


METRICS: dict[str, Callable[[Sequence, Sequence], float]] = {
    "accuracy": lambda y, p: float(accuracy_score(y, p)),
    "macro_f1": macro_f1,
    "mcc": lambda y, p: float(matthews_corrcoef(y, p)),
    "balanced_accuracy": lambda y, p: float(balanced_accuracy_score(y, p)),
    "pearson": lambda y, p: float(stats.pearsonr(y, p).statistic),
    "spearman": lambda y, p: float(stats.spearmanr(y, p).statistic),
    "mse": lambda y, p: float(mean_squared_error(y, p)),
    "rouge_l": _mean,
    "exact_match": _mean,
    "reward_accuracy": _mean,  # preference rows store 1 where the chosen response won
    "entity_f1": entity_f1,
}
# Generation metrics computed from texts; `rouge_l` and `exact_match` are also per-example means.
# Metrics that are the mean of a per-example score: that score from (labels, predictions).
# The method-level test uses it directly; other metrics are resampled over examples instead.
PER_EXAMPLE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "accuracy": lambda y, p: (np.asarray(y) == np.asarray(p)).astype(float),
    "mse": lambda y, p: (np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2,
    "rouge_l": lambda _y, p: np.asarray(p, dtype=float),
    "exact_match": lambda _y, p: np.asarray(p, dtype=float),
    "reward_accuracy": lambda _y, p: np.asarray(p, dtype=float),
}

TEXT_METRICS = ("bleu", "rouge_l", "exact_match")


def per_class_recall(
    labels: Sequence[int], preds: Sequence[int], names: Sequence[str]
) -> dict[str, float]:
    """Recall of every class (what imbalanced data hides behind accuracy)."""
    values = recall_score(
        labels, preds, labels=list(range(len(names))), average=None, zero_division=0
    )
    return {name: float(v) for name, v in zip(names, values, strict=True)}


def compute_metrics(names: Sequence[str], labels: Sequence, preds: Sequence) -> dict[str, float]:
    """Every named metric on (labels, predictions)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {', '.join(sorted(METRICS))}")
    return {name: METRICS[name](labels, preds) for name in names}


def majority_baseline(train_labels: Sequence[int], test_labels: Sequence[int]) -> float:
    """Accuracy of always predicting the most frequent training label."""
    majority = max(set(train_labels), key=list(train_labels).count)
    return sum(1 for y in test_labels if y == majority) / max(len(test_labels), 1)


def corpus_bleu(hypotheses: list[str], references: list[list[str]]) -> float:
    """sacrebleu's corpus BLEU; each hypothesis may have several references."""
    from sacrebleu.metrics import BLEU

    width = max((len(r) for r in references), default=1)
    streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(width)]
    return float(BLEU().corpus_score(hypotheses, streams).score)


@cache
def _rouge_scorer():  # noqa: ANN202
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(hypothesis: str, references: list[str]) -> float:
    """ROUGE-L F-measure against the best-matching reference (rouge-score's score_multi)."""
    return float(_rouge_scorer().score_multi(references, hypothesis)["rougeL"].fmeasure)


_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


def final_number(text: str) -> str | None:
    """The answer GSM8K grades: the number after '####', else the last number in the text."""
    tail = text.split("####")[-1] if "####" in text else text
    found = _NUMBER.findall(tail)
    if not found:
        return None
    value = found[-1].replace(",", "").rstrip(".")
    return value[:-2] if value.endswith(".0") else value


def exact_match(hypothesis: str, references: list[str]) -> float:
    """1.0 when the final number of the hypothesis equals that of any reference."""
    got = final_number(hypothesis)
    return float(got is not None and any(final_number(r) == got for r in references))
