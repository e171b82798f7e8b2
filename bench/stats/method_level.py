"""Method-level comparisons: differences between methods that carry both the seed-to-seed
variance of training and the sampling variance of the test set.

A test over examples alone (McNemar, a bootstrap over examples) asks whether two trained
instances differ on this test set; between two seeds of one method 9-20% of examples flip, so
it rejects A/A pairs far above its level (24% on our store). A t-test over seeds alone ignores
that the test set is a sample too, and over-rejects when methods differ example by example but
not on average. The mean difference D over S seeds and N examples has, in a crossed
seed x example random-effects model,

    Var(D) = Var(seed difference) / S + sigma_example^2 / N.

The seed term is estimated from the S per-seed differences (S - 1 degrees of freedom), the
test-set term (which more seeds do not shrink) from the example dimension (about N degrees of
freedom), truncated at 0. The interval joins the two with MOVER (Zou & Donner 2008): half-width
sqrt(t_{S-1}^2 * seed term + z^2 * test-set term), each term with its own quantile, so that it
is exactly the paired t interval over seeds when the test-set term is nil, and never narrower.
The p-value is the level at which that interval touches 0. Satterthwaite's degrees of freedom
were tried first and rejected 6.7-8% of A/A pairs with 3 seeds when methods differ per example.
The A/A rate and the power are shown in tests/test_method_level.py. scipy does the
distributions; the variance components and MOVER are written here, since neither scipy nor
statsmodels offers them for paired (seed x example) scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy import stats as st
from scipy.integrate import quad
from scipy.optimize import brentq

from bench.stats import paired as stats


@dataclass(frozen=True)
class MethodDifference:
    """mean(a - b) over seeds and examples, its interval and two-sided p-value (H0: the
    methods do not differ), and the variance components that make them."""

    estimate: float
    low: float
    high: float
    pvalue: float
    se: float  # sqrt(seed variance / seeds + test-set variance)
    df: float  # of the seed term
    seeds: int
    examples: int
    seed_var: float  # variance of one seed's paired difference
    test_set_var: float  # variance of the estimate from sampling the test set (>= 0)
    confidence: float = 0.95
    note: str = ""

    @property
    def testable(self) -> bool:
        return self.seeds >= 2

    def seeds_for_power(
        self, power: float = 0.8, alpha: float = 0.05, max_seeds: int = 100
    ) -> int | None:
        """Fewest seeds at which this test detects the observed difference with `power`,
        given the measured variances; None when even `max_seeds` would not (or no difference)."""
        return seeds_for_power(
            self.estimate, self.seed_var, self.test_set_var, power, alpha, max_seeds
        )

    def seeds_for_power_range(
        self, power: float = 0.8, level: float = 0.9, max_seeds: int = 100
    ) -> tuple[int | None, int | None]:
        """seeds_for_power at the ends of the `level` chi-square interval of the seed variance
        (estimated from seeds - 1 degrees of freedom): (fewest, most); None: beyond max_seeds."""
        df = self.seeds - 1
        if df < 1 or not math.isfinite(self.seed_var):
            return (None, None)
        tail = (1 - level) / 2
        low_var = self.seed_var * df / float(st.chi2.isf(tail, df))
        high_var = self.seed_var * df / float(st.chi2.ppf(tail, df))
        return tuple(  # type: ignore[return-value]
            seeds_for_power(self.estimate, var, self.test_set_var, power, max_seeds=max_seeds)
            for var in (low_var, high_var)
        )

    def lower_bound(self, alpha: float = 0.05) -> float:
        """One-sided (1 - alpha) lower confidence bound of the difference."""
        if not self.testable:
            return -math.inf
        if self.se == 0:
            return self.estimate
        seed_term = self.seed_var / self.seeds
        return self.estimate - _half_width(seed_term, self.seeds, self.test_set_var, 2 * alpha)


def _t_isf(q: float, df: int) -> float:
    """st.t.isf(q, df), computed as scipy computes it (-stdtrit) without the distribution
    object's argument handling, which costs 60x the quantile inside brentq."""
    return float(-special.stdtrit(df, q))


def _z_isf(q: float) -> float:
    """st.norm.isf(q), as scipy computes it (-ndtri), bit for bit."""
    return float(-special.ndtri(q))


def _half_width(seed_term: float, seeds: int, test_set_var: float, tail: float) -> float:
    """MOVER half-width for a two-sided tail probability `tail` (one-sided: 2 * alpha)."""
    t = _t_isf(tail / 2, seeds - 1)
    z = _z_isf(tail / 2)
    return math.sqrt(t * t * seed_term + z * z * test_set_var)


def _pvalue(estimate: float, seed_term: float, seeds: int, test_set_var: float) -> float:
    """The two-sided level at which the MOVER interval just reaches 0."""
    if estimate == 0:
        return 1.0
    if test_set_var == 0:
        return float(2 * st.t.sf(abs(estimate) / math.sqrt(seed_term), seeds - 1))
    if seed_term == 0:
        return float(2 * st.norm.sf(abs(estimate) / math.sqrt(test_set_var)))

    def excess(log_tail: float) -> float:
        return _half_width(seed_term, seeds, test_set_var, 10.0**log_tail) - abs(estimate)

    if excess(-300.0) < 0:
        return 1e-300
    return float(10.0 ** brentq(excess, -300.0, 0.0, xtol=1e-10))


def _combine(
    per_seed: np.ndarray, test_set_var: float, examples: int, confidence: float, note: str = ""
) -> MethodDifference:
    """The method-level result from per-seed differences and the test-set variance term."""
    seeds = len(per_seed)
    estimate = float(per_seed.mean()) if seeds else 0.0
    if seeds < 2:
        return MethodDifference(
            estimate=estimate,
            low=-math.inf,
            high=math.inf,
            pvalue=math.nan,
            se=math.nan,
            df=math.nan,
            seeds=seeds,
            examples=examples,
            seed_var=math.nan,
            test_set_var=test_set_var,
            confidence=confidence,
            note="fewer than 2 seeds: no method-level test",
        )
    seed_var = float(per_seed.var(ddof=1))
    seed_term = seed_var / seeds
    if seed_term + test_set_var == 0:  # every seed and example agrees: exactly known
        half, pvalue = 0.0, 1.0 if estimate == 0 else 0.0
        note = note or "no variance: every seed and example agrees"
    else:
        half = _half_width(seed_term, seeds, test_set_var, 1 - confidence)
        pvalue = _pvalue(estimate, seed_term, seeds, test_set_var)
    return MethodDifference(
        estimate=estimate,
        low=estimate - half,
        high=estimate + half,
        pvalue=pvalue,
        se=math.sqrt(seed_term + test_set_var),
        df=seeds - 1,
        seeds=seeds,
        examples=examples,
        seed_var=seed_var,
        test_set_var=test_set_var,
        confidence=confidence,
        note=note,
    )


def method_difference(
    a: np.ndarray | Sequence[Sequence[float]],
    b: np.ndarray | Sequence[Sequence[float]],
    confidence: float = 0.95,
) -> MethodDifference:
    """Per-example scores of two methods, shape (seeds, examples), seeds paired: row s of `a`
    and of `b` saw the same seed (data order, split). For metrics that are a mean of
    per-example scores (accuracy: correctness; ROUGE-L; squared error)."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"need (seeds, examples) arrays of one shape, got {x.shape}, {y.shape}")
    seeds, examples = x.shape
    d = x - y
    per_seed = d.mean(axis=1)
    test_set_var = 0.0
    if seeds >= 2 and examples >= 2:
        per_example = d.mean(axis=0)
        residual = d - per_seed[:, None] - per_example[None, :] + d.mean()
        mse = float((residual**2).sum()) / ((seeds - 1) * (examples - 1))
        example_var = float(per_example.var(ddof=1)) - mse / seeds  # sigma_example^2
        test_set_var = max(0.0, example_var / examples)
    return _combine(per_seed, test_set_var, examples, confidence)


def method_difference_metric(
    labels: np.ndarray | Sequence,
    a_preds: np.ndarray | Sequence[Sequence],
    b_preds: np.ndarray | Sequence[Sequence],
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> MethodDifference:
    """For metrics that do not decompose per example (macro-F1, MCC, correlations): the per-seed
    metric differences give the seed term; resampling examples (the same draw for every seed
    and both methods) gives the test-set term as (S * Var(mean_s d*) - mean_s Var(d*_s)) / (S-1),
    which equals the per-example formula of `method_difference` for a mean metric."""
    y = np.asarray(labels)
    pa, pb = np.asarray(a_preds), np.asarray(b_preds)
    if pa.shape != pb.shape or pa.ndim != 2 or pa.shape[1] != len(y):
        raise ValueError(
            f"need (seeds, examples) predictions of one shape matching {len(y)} labels, "
            f"got {pa.shape} and {pb.shape}"
        )
    seeds, examples = pa.shape
    per_seed = np.array([metric(y, pa[s]) - metric(y, pb[s]) for s in range(seeds)])
    test_set_var = 0.0
    if seeds >= 2:
        rng = np.random.default_rng(seed)
        draws = np.empty((n_resamples, seeds))
        for r in range(n_resamples):
            i = rng.integers(0, examples, examples)
            draws[r] = [metric(y[i], pa[s, i]) - metric(y[i], pb[s, i]) for s in range(seeds)]
        of_mean = float(draws.mean(axis=1).var(ddof=1))
        mean_of = float(draws.var(axis=0, ddof=1).mean())
        test_set_var = max(0.0, (seeds * of_mean - mean_of) / (seeds - 1))
    note = f"test-set term from {n_resamples} resamples of the examples"
    return _combine(per_seed, test_set_var, examples, confidence, note)


def power_at(
    difference: float, seed_var: float, test_set_var: float, seeds: int, alpha: float = 0.05
) -> float:
    """Probability that the two-sided method-level test at `alpha` rejects with `seeds` seeds
    when the true difference, seed variance and test-set variance are the given ones: D is
    normal, the seed variance estimate a scaled chi-square with S - 1 degrees of freedom."""
    sd = math.sqrt(seed_var / seeds + test_set_var)
    if sd == 0:
        return 1.0 if difference else alpha
    t = _t_isf(alpha / 2, seeds - 1)
    z = _z_isf(alpha / 2)
    chi2 = st.chi2(seeds - 1)

    def reject_given(q: float) -> float:
        half = math.sqrt(t * t * seed_var * q / ((seeds - 1) * seeds) + z * z * test_set_var)
        # st.norm.sf(x) + st.norm.cdf(y), as scipy computes them (ndtr), bit for bit
        above, below = (half - difference) / sd, (-half - difference) / sd
        return float(special.ndtr(-above) + special.ndtr(below))

    return float(quad(lambda q: reject_given(q) * chi2.pdf(q), 0, math.inf, limit=200)[0])


def seeds_for_power(
    difference: float,
    seed_var: float,
    test_set_var: float,
    power: float = 0.8,
    alpha: float = 0.05,
    max_seeds: int = 100,
) -> int | None:
    """Fewest seeds S (2..max_seeds) at which the method-level test detects `difference` with
    `power`, the variances held at their estimates; None if no S up to max_seeds does (the
    test-set term alone may forbid it) or there is no difference to detect."""
    if difference == 0 or not math.isfinite(seed_var):
        return None
    if test_set_var > 0:  # with endless seeds only the test-set term is left
        shift, z = abs(difference) / math.sqrt(test_set_var), float(st.norm.isf(alpha / 2))
        if float(st.norm.sf(z - shift) + st.norm.cdf(-z - shift)) < power:
            return None

    def enough(seeds: int) -> bool:
        return power_at(difference, seed_var, test_set_var, seeds, alpha) >= power

    if not enough(max_seeds):
        return None
    low, high = 2, max_seeds  # power grows with the seeds: bisect for the first enough
    while low < high:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle + 1
    return low


def noninferiority(
    result: MethodDifference, margin: float, alpha: float = 0.05
) -> stats.NonInferiority:
    """H0: the method-level difference (new - base) <= -margin; passed when the one-sided
    (1 - alpha) lower bound of the method-level interval is above -margin."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if not result.testable:
        return stats.NonInferiority(
            passed=False,
            statistic=0.0,
            pvalue=1.0,
            estimate=result.estimate,
            low=-math.inf,
            margin=margin,
            n=result.seeds,
            note="fewer than 2 seeds: non-inferiority cannot be shown",
        )
    low = result.lower_bound(alpha)
    shifted = result.estimate + margin
    seed_term = result.seed_var / result.seeds
    if result.se == 0:
        pvalue = 0.0 if shifted > 0 else 1.0
    else:
        two_sided = _pvalue(shifted, seed_term, result.seeds, result.test_set_var)
        pvalue = two_sided / 2 if shifted > 0 else 1 - two_sided / 2
    return stats.NonInferiority(
        passed=low > -margin,
        statistic=shifted / result.se if result.se else math.copysign(math.inf, shifted),
        pvalue=pvalue,
        estimate=result.estimate,
        low=low,
        margin=margin,
        n=result.seeds,
        note="method-level (seed and test-set variance), one-sided",
    )
