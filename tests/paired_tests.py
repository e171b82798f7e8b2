"""Reference paired tests the suite compares the method-level test against (per seed: t and
Wilcoxon; per example: McNemar, bootstrap, permutation). Test support: the engine uses none."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as st

from bench.stats.paired import ArrayLike, _paired


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


def ttest_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """paired_ttest(a, b).pvalue from the t distribution's CDF directly: the simulations call it
    thousands of times, where scipy's argument handling costs more than the test."""
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    n = len(d)
    sd = float(d.std(ddof=1)) if n > 1 else 0.0
    if n < 2 or sd == 0.0:
        return paired_ttest(a, b).pvalue  # the edge cases, as the full test decides them
    t = float(d.mean()) / (sd / math.sqrt(n))
    return float(2.0 * special.stdtr(n - 1, -abs(t)))


def mcnemar_pvalue(a_correct: np.ndarray, b_correct: np.ndarray) -> float:
    """mcnemar(a, b).pvalue from the binomial CDF directly (at p = 1/2 the two-sided exact
    p-value is twice the lower tail of the smaller count, at most 1)."""
    x, y = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    only_a, only_b = int(np.sum(x & ~y)), int(np.sum(~x & y))
    if only_a + only_b == 0:
        return 1.0
    return float(min(1.0, 2.0 * special.bdtr(min(only_a, only_b), only_a + only_b, 0.5)))


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
