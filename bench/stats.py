"""Paired significance tests for comparing methods: by seed and by example, with corrections.

scipy and statsmodels do the statistics; this module fixes the conventions (difference is
a - b, two-sided unless said, defined answers on degenerate input) and one result type.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class TestResult:
    """A test's statistic and p-value; `estimate` is the effect (a - b), `low`/`high` its CI."""

    test: str
    statistic: float
    pvalue: float
    estimate: float
    low: float | None = None
    high: float | None = None
    n: int = 0
    note: str = ""


@dataclass(frozen=True)
class Corrected:
    """P-values after a correction for many comparisons, and which hypotheses it rejects."""

    pvalues: tuple[float, ...]
    reject: tuple[bool, ...]
    method: str
    alpha: float


@dataclass(frozen=True)
class NonInferiority:
    """H0: mean(new - base) <= -margin. Passed when the one-sided lower bound exceeds -margin."""

    passed: bool
    statistic: float
    pvalue: float
    estimate: float
    low: float
    margin: float
    n: int
    note: str = ""


def _paired(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"paired samples must be 1-d and of equal length, got {x.shape} and {y.shape}"
        )
    return x, y


def mcnemar(a_correct: ArrayLike, b_correct: ArrayLike) -> TestResult:
    """McNemar's exact test on per-example correctness (a binomial test on discordant pairs)."""
    x, y = _paired(a_correct, b_correct)
    x, y = x.astype(bool), y.astype(bool)
    only_a = int(np.sum(x & ~y))
    only_b = int(np.sum(~x & y))
    discordant = only_a + only_b
    estimate = float(x.mean() - y.mean()) if len(x) else 0.0
    if discordant == 0:
        return TestResult("mcnemar-exact", 0.0, 1.0, estimate, n=len(x), note="no discordant pairs")
    statistic = min(only_a, only_b)  # statsmodels' convention for the exact test
    pvalue = st.binomtest(statistic, discordant, 0.5).pvalue
    return TestResult(
        "mcnemar-exact",
        float(statistic),
        float(min(pvalue, 1.0)),
        estimate,
        n=len(x),
        note=f"{only_a} right only in a, {only_b} right only in b",
    )


def paired_ttest(a: ArrayLike, b: ArrayLike, confidence: float = 0.95) -> TestResult:
    """Paired t-test of mean(a - b) = 0, with its two-sided confidence interval."""
    x, y = _paired(a, b)
    d = x - y
    n = len(d)
    mean = float(d.mean()) if n else 0.0
    if n < 2:
        return TestResult(
            "paired-t", 0.0, 1.0, mean, -math.inf, math.inf, n, note="fewer than 2 pairs: no test"
        )
    if np.all(d == d[0]):  # no spread: the difference is exactly known
        if mean == 0.0:
            return TestResult("paired-t", 0.0, 1.0, 0.0, 0.0, 0.0, n, note="all differences 0")
        return TestResult(
            "paired-t",
            math.copysign(math.inf, mean),
            0.0,
            mean,
            mean,
            mean,
            n,
            note="identical nonzero differences",
        )
    result = st.ttest_rel(x, y)
    interval = result.confidence_interval(confidence)
    return TestResult(
        "paired-t",
        float(result.statistic),
        float(result.pvalue),
        mean,
        float(interval.low),
        float(interval.high),
        n,
    )


def wilcoxon(a: ArrayLike, b: ArrayLike) -> TestResult:
    """Wilcoxon signed-rank test of the paired differences a - b (zero differences dropped)."""
    x, y = _paired(a, b)
    d = x - y
    nonzero = int(np.count_nonzero(d))
    median = float(np.median(d)) if len(d) else 0.0
    if nonzero == 0:
        return TestResult("wilcoxon", 0.0, 1.0, median, n=len(d), note="all differences 0")
    result = st.wilcoxon(d, zero_method="wilcox")
    return TestResult(
        "wilcoxon",
        float(result.statistic),
        float(result.pvalue),
        median,
        n=len(d),
        note="" if nonzero == len(d) else f"{len(d) - nonzero} zeros dropped",
    )


Metric = Callable[..., float]


def paired_bootstrap(
    a: ArrayLike,
    b: ArrayLike,
    metric: Metric,
    labels: ArrayLike | None = None,
    *,
    n_resamples: int = 9999,
    confidence: float = 0.95,
    seed: int = 0,
) -> TestResult:
    """Resample examples jointly; CI of metric(a) - metric(b) and a two-sided bootstrap p-value.

    `metric(values)` or, with `labels`, `metric(labels, predictions)` (accuracy, F1, BLEU...).
    """
    x, y = np.asarray(a), np.asarray(b)
    if len(x) != len(y):
        raise ValueError(f"paired samples differ in length: {len(x)} and {len(y)}")
    idx = np.arange(len(x))
    lab = None if labels is None else np.asarray(labels)

    def diff(i: np.ndarray) -> float:
        i = i.astype(int)
        if lab is None:
            return metric(x[i]) - metric(y[i])
        return metric(lab[i], x[i]) - metric(lab[i], y[i])

    estimate = float(diff(idx))
    if len(x) < 2 or np.array_equal(x, y):
        return TestResult(
            "paired-bootstrap",
            estimate,
            1.0,
            estimate,
            estimate,
            estimate,
            len(x),
            note="identical samples" if len(x) >= 2 else "fewer than 2",
        )
    rng = np.random.default_rng(seed)
    result = st.bootstrap(
        (idx,),
        diff,
        n_resamples=n_resamples,
        confidence_level=confidence,
        vectorized=False,
        method="percentile",
        rng=rng,
    )
    dist = result.bootstrap_distribution
    # +1 in numerator and denominator: a resampling p-value is never 0 (Davison & Hinkley)
    below, above = int(np.sum(dist <= 0)), int(np.sum(dist >= 0))
    pvalue = min(1.0, 2 * (min(below, above) + 1) / (len(dist) + 1))
    return TestResult(
        "paired-bootstrap",
        estimate,
        pvalue,
        estimate,
        float(result.confidence_interval.low),
        float(result.confidence_interval.high),
        len(x),
        note=f"{n_resamples} resamples, percentile interval",
    )


def paired_permutation(
    a: ArrayLike,
    b: ArrayLike,
    metric: Metric,
    labels: ArrayLike | None = None,
    *,
    n_resamples: int = 9999,
    seed: int = 0,
) -> TestResult:
    """Swap a and b within random pairs; two-sided p-value of metric(a) - metric(b)."""
    x, y = np.asarray(a), np.asarray(b)
    if len(x) != len(y):
        raise ValueError(f"paired samples differ in length: {len(x)} and {len(y)}")
    lab = None if labels is None else np.asarray(labels)

    def diff(p: np.ndarray, q: np.ndarray) -> float:
        if lab is None:
            return metric(p) - metric(q)
        return metric(lab, p) - metric(lab, q)

    estimate = float(diff(x, y))
    if len(x) < 1 or np.array_equal(x, y):
        return TestResult(
            "paired-permutation", estimate, 1.0, estimate, n=len(x), note="identical samples"
        )
    result = st.permutation_test(
        (x, y),
        diff,
        permutation_type="samples",
        vectorized=False,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )
    return TestResult(
        "paired-permutation",
        float(result.statistic),
        float(result.pvalue),
        estimate,
        n=len(x),
        note=f"{n_resamples} resamples",
    )


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> Corrected:
    """Holm's step-down correction (statsmodels' method="holm"; its default is Holm-Sidak)."""
    if len(pvalues) == 0:
        return Corrected((), (), "holm", alpha)
    clean = [1.0 if p is None or not math.isfinite(p) else float(p) for p in pvalues]
    reject, corrected, _, _ = multipletests(clean, alpha=alpha, method="holm")
    return Corrected(
        tuple(float(p) for p in corrected), tuple(bool(r) for r in reject), "holm", alpha
    )


def noninferiority(
    new: ArrayLike, base: ArrayLike, margin: float, alpha: float = 0.05
) -> NonInferiority:
    """One-sided paired t-test of H0: mean(new - base) <= -margin at level alpha."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x, y = _paired(new, base)
    d = x - y
    n = len(d)
    mean = float(d.mean()) if n else 0.0
    if n < 2:
        return NonInferiority(
            False,
            0.0,
            1.0,
            mean,
            -math.inf,
            margin,
            n,
            note="fewer than 2 pairs: non-inferiority cannot be shown",
        )
    if np.all(d == d[0]):
        passed = mean > -margin
        return NonInferiority(
            passed,
            math.inf if passed else -math.inf,
            0.0 if passed else 1.0,
            mean,
            mean,
            margin,
            n,
            note="identical differences",
        )
    result = st.ttest_rel(x + margin, y, alternative="greater")
    low = float(result.confidence_interval(1 - alpha).low) - margin
    return NonInferiority(
        low > -margin, float(result.statistic), float(result.pvalue), mean, low, margin, n
    )
