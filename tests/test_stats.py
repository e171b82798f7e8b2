"""The statistics against scipy / statsmodels references, A/A false-positive rates, edge cases."""

import math

import numpy as np
import pytest
from scipy import stats as st
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar
from statsmodels.stats.multitest import multipletests

from bench.stats import paired as stats
from tests import paired_tests as reference


def accuracy(y, p):
    return float(np.mean(np.asarray(y) == np.asarray(p)))


def test_mcnemar_matches_statsmodels_exact():
    rng = np.random.default_rng(0)
    a = rng.random(300) < 0.7
    b = rng.random(300) < 0.6
    table = [[np.sum(a & b), np.sum(a & ~b)], [np.sum(~a & b), np.sum(~a & ~b)]]
    ref = sm_mcnemar(table, exact=True)
    got = reference.mcnemar(a, b)
    assert got.statistic == ref.statistic
    assert got.pvalue == pytest.approx(ref.pvalue, rel=1e-12)
    assert got.estimate == pytest.approx(a.mean() - b.mean())


def test_paired_ttest_matches_scipy_and_the_formula():
    a = np.array([0.68, 0.70, 0.69, 0.71, 0.66])
    b = np.array([0.66, 0.67, 0.69, 0.68, 0.65])
    got = reference.paired_ttest(a, b)
    ref = st.ttest_rel(a, b)
    assert got.pvalue == pytest.approx(ref.pvalue) and got.statistic == pytest.approx(ref.statistic)
    d = a - b
    half = st.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d))
    assert (got.low, got.high) == pytest.approx((d.mean() - half, d.mean() + half))


def test_wilcoxon_matches_scipy_documentation_example():
    d = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75])
    got = reference.wilcoxon(d, np.zeros_like(d))
    assert got.statistic == 24.0
    assert got.pvalue == pytest.approx(0.041259765625)


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    reject, corrected, _, _ = multipletests(p, alpha=0.05, method="holm")
    got = stats.holm(p)
    assert got.pvalues == pytest.approx(tuple(corrected))
    assert got.reject == tuple(reject)
    assert stats.holm([]).pvalues == ()
    assert stats.holm([float("nan"), 0.001]).pvalues == pytest.approx((1.0, 0.002))


def test_bootstrap_interval_covers_the_difference_and_detects_a_gap():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 400)
    a = np.where(rng.random(400) < 0.8, y, (y + 1) % 3)
    b = np.where(rng.random(400) < 0.6, y, (y + 1) % 3)
    got = reference.paired_bootstrap(a, b, accuracy, labels=y, n_resamples=2000)
    assert got.estimate == pytest.approx(accuracy(y, a) - accuracy(y, b))
    assert got.low < got.estimate < got.high and got.low > 0
    assert got.pvalue < 0.01


def test_permutation_agrees_with_mcnemar_on_accuracy():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    a = np.where(rng.random(200) < 0.75, y, 1 - y)
    b = np.where(rng.random(200) < 0.65, y, 1 - y)
    perm = reference.paired_permutation(a, b, accuracy, labels=y, n_resamples=4000)
    exact = reference.mcnemar(a == y, b == y)
    assert perm.estimate == pytest.approx(exact.estimate)
    assert perm.pvalue == pytest.approx(exact.pvalue, abs=0.02)


@pytest.mark.parametrize("n", [0, 1])
def test_too_few_pairs_give_defined_answers(n):
    x = np.ones(n)
    for result in (reference.paired_ttest(x, x), reference.wilcoxon(x, x), reference.mcnemar(x, x)):
        assert result.pvalue == 1.0 and not math.isnan(result.statistic)
    assert not stats.seed_noninferiority(x, x, 0.01).passed


def test_all_equal_and_constant_differences():
    same = reference.paired_ttest([0.5, 0.5, 0.5], [0.5, 0.5, 0.5])
    assert (same.pvalue, same.low, same.high) == (1.0, 0.0, 0.0)
    shifted = reference.paired_ttest([0.6, 0.7], [0.5, 0.6])
    assert shifted.pvalue == 0.0 and shifted.estimate == pytest.approx(0.1)
    assert reference.wilcoxon([1, 2, 3], [1, 2, 3]).pvalue == 1.0
    assert reference.mcnemar([1, 0, 1], [1, 0, 1]).pvalue == 1.0
    assert reference.paired_bootstrap([1, 0, 1], [1, 0, 1], np.mean).pvalue == 1.0
    assert reference.paired_permutation([1, 0, 1], [1, 0, 1], np.mean).pvalue == 1.0


def test_n_equals_two_and_ties():
    two = reference.paired_ttest([0.7, 0.6], [0.65, 0.62])
    assert 0.0 < two.pvalue <= 1.0 and two.low < two.estimate < two.high
    tied = reference.wilcoxon([1, 2, 3, 4, 5], [0, 1, 2, 3, 4.5])  # ties among |d|
    assert 0.0 < tied.pvalue <= 1.0


def test_noninferiority_decisions():
    base = np.array([0.70, 0.71, 0.69, 0.72, 0.70])
    assert stats.seed_noninferiority(
        base + 0.001, base + np.array([0, 0.002, -0.001, 0.001, 0]), margin=0.02
    ).passed
    worse = stats.seed_noninferiority(base - 0.05, base, margin=0.01)
    assert not worse.passed and worse.low < -0.01
    assert stats.seed_noninferiority(base, base, margin=0.01).passed  # exactly equal, within margin
    with pytest.raises(ValueError, match="margin must be >= 0"):
        stats.seed_noninferiority(base, base, margin=-1)


def _aa_rate(test, trials, rng, alpha=0.05):
    hits = 0
    for _ in range(trials):
        hits += test(rng) < alpha
    return hits / trials


def test_aa_paired_ttest_and_wilcoxon_reject_at_the_nominal_rate():
    rng = np.random.default_rng(10)

    def draw(r):
        shared = r.normal(0.7, 0.05, 5)  # seeds share difficulty; both sides the same method
        return shared + r.normal(0, 0.01, 5), shared + r.normal(0, 0.01, 5)

    t_rate = _aa_rate(lambda r: reference.paired_ttest(*draw(r)).pvalue, 1000, rng)
    assert abs(t_rate - 0.05) < 0.02  # 1,000 trials: sd of the rate is 0.007
    w_rate = _aa_rate(lambda r: reference.wilcoxon(*draw(r)).pvalue, 1000, rng)
    assert w_rate <= 0.07  # exact test with n=5: conservative (smallest p is 0.0625)


def test_aa_mcnemar_and_resampling_tests_do_not_inflate_false_positives():
    rng = np.random.default_rng(11)

    def correctness(r):
        y = r.integers(0, 3, 200)
        return (r.random(200) < 0.7), (r.random(200) < 0.7), y

    mc = _aa_rate(lambda r: reference.mcnemar(*correctness(r)[:2]).pvalue, 1000, rng)
    assert mc <= 0.065  # exact McNemar is conservative
    boot = _aa_rate(
        lambda r: reference.paired_bootstrap(*correctness(r)[:2], np.mean, n_resamples=299).pvalue,
        200,
        rng,
    )
    assert abs(boot - 0.05) < 0.05  # 200 trials: sd 0.015
    perm = _aa_rate(
        lambda r: (
            reference.paired_permutation(*correctness(r)[:2], np.mean, n_resamples=299).pvalue
        ),
        200,
        rng,
    )
    assert abs(perm - 0.05) < 0.05


def test_noninferiority_at_the_margin_passes_at_rate_alpha():
    rng = np.random.default_rng(12)
    margin = 0.01

    def passes(r):
        base = r.normal(0.7, 0.02, 5)
        new = base - margin + r.normal(0, 0.01, 5)  # exactly at the boundary of H0
        return 0.0 if stats.seed_noninferiority(new, base, margin).passed else 1.0

    rate = _aa_rate(passes, 1000, rng)
    assert abs(rate - 0.05) < 0.02


def test_the_fast_reference_p_values_are_scipys():
    """The simulations' shortcuts give the p-values of scipy's ttest_rel and binomtest."""
    rng = np.random.default_rng(7)
    for n in (2, 3, 5, 8):
        for _ in range(50):
            a, b = rng.normal(0.7, 0.03, n), rng.normal(0.7, 0.03, n)
            assert reference.ttest_pvalue(a, b) == pytest.approx(
                reference.paired_ttest(a, b).pvalue, rel=1e-9, abs=1e-12
            )
    for size in (5, 40, 1000):
        for _ in range(50):
            a, b = rng.random(size) < 0.7, rng.random(size) < 0.7
            assert reference.mcnemar_pvalue(a, b) == pytest.approx(
                reference.mcnemar(a, b).pvalue, rel=1e-9, abs=1e-12
            )
    assert reference.mcnemar_pvalue(np.ones(4, bool), np.ones(4, bool)) == 1.0
