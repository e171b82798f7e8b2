"""The method-level test: nominal A/A rate with realistic seed noise, power, and its parts."""

import math

import numpy as np
import pytest
from scipy import stats as st

from bench.stats.method_level import (
    method_difference,
    method_difference_metric,
    noninferiority,
    power_at,
    seeds_for_power,
)
from tests import paired_tests as reference
from tests.simulate import SeedNoise, seed_sd_and_flips, simulate_pair

# Seed noise as measured between seeds of one method on reports/ftbench.sqlite: accuracy sd
# 0.004-0.046 (median 0.012), 1-33% of test examples flipping correctness (median 11%).
REALISTIC = {
    "typical": SeedNoise(),
    "noisy": SeedNoise(ability_sd=0.3, concentration=1.0),
    "stable": SeedNoise(ability_sd=0.1, concentration=0.3),
}


def _rates(seeds, noise, trials, rng, difference=0.0, examples=1000):
    """Rejection rates at 0.05 of the method-level test, the seed-level t-test and McNemar
    pooled over seeds, on the same simulated pairs; and the noise the pairs showed."""
    ours = t = mcnemar = 0
    sds, flips = [], []
    for _ in range(trials):
        a, b = simulate_pair(rng, seeds, examples, noise, difference)
        ours += method_difference(b, a).pvalue < 0.05
        t += reference.ttest_pvalue(b.mean(axis=1), a.mean(axis=1)) < 0.05
        mcnemar += reference.mcnemar_pvalue(b.ravel(), a.ravel()) < 0.05
        sd, flip = seed_sd_and_flips(a)
        sds.append(sd)
        flips.append(flip)
    return ours / trials, t / trials, mcnemar / trials, np.mean(sds), np.mean(flips)


@pytest.mark.parametrize("seeds", [3, 5])
@pytest.mark.parametrize("name", list(REALISTIC))
def test_aa_pairs_reject_at_the_nominal_rate(seeds, name):
    rng = np.random.default_rng(100 + seeds)
    ours, t, mcnemar, sd, flips = _rates(seeds, REALISTIC[name], 1500, rng)
    assert 0.005 <= sd <= 0.035 and 0.09 <= flips <= 0.22  # the noise measured on our store
    assert 0.035 <= ours <= 0.065  # 1,500 trials: sd of the rate 0.0056
    if name != "stable":  # where abilities vary, per-example tests reject A/A pairs often
        assert mcnemar > 0.15  # they answer another question (24% on our store)


@pytest.mark.parametrize("seeds", [3, 5])
def test_methods_that_differ_per_example_but_not_on_average_are_not_called_different(seeds):
    rng = np.random.default_rng(200 + seeds)
    ours, t, *_ = _rates(seeds, SeedNoise(example_sd=4.0), 1500, rng)
    assert ours <= 0.065  # the test-set term keeps the level (conservative here)
    assert t > 0.08  # a t-test over seeds alone treats this test set as the population


@pytest.mark.parametrize("seeds", [3, 5])
@pytest.mark.parametrize("difference", [0.3, 0.5])
def test_power_matches_the_seed_level_t_test(seeds, difference):
    """On the same data a test that adds the test-set variance cannot reject more often than
    one that omits it; MOVER keeps the loss within a point of power."""
    rng = np.random.default_rng(300 + seeds)
    ours, t, *_ = _rates(seeds, SeedNoise(), 1000, rng, difference)
    assert ours >= t - 0.01 and ours > 0.15


def test_a_metric_resampled_over_examples_holds_its_level():
    rng = np.random.default_rng(400)
    labels = np.ones(300)
    rejected = 0
    for _ in range(1000):
        a, b = simulate_pair(rng, 3, 300)
        result = method_difference_metric(
            labels,
            a,
            b,
            lambda y, p: float(np.mean(y == p)),
            n_resamples=100,
            seed=int(rng.integers(1 << 30)),
        )
        rejected += result.pvalue < 0.05
    assert 0.035 <= rejected / 1000 <= 0.065


def test_resampling_and_the_formula_agree_for_a_mean_metric():
    rng = np.random.default_rng(500)
    a, b = simulate_pair(rng, 4, 800, SeedNoise(example_sd=2.0))
    formula = method_difference(a, b)
    resampled = method_difference_metric(
        np.ones(800), a, b, lambda y, p: float(np.mean(y == p)), n_resamples=4000
    )
    assert resampled.estimate == pytest.approx(formula.estimate)
    assert resampled.seed_var == pytest.approx(formula.seed_var)
    assert resampled.test_set_var == pytest.approx(formula.test_set_var, rel=0.15)


def test_without_test_set_variance_it_is_the_paired_t_test():
    rng = np.random.default_rng(600)
    per_seed_a, per_seed_b = rng.normal(0.7, 0.02, 4), rng.normal(0.68, 0.02, 4)
    a = np.repeat(per_seed_a[:, None], 50, axis=1)  # no example-to-example variation
    b = np.repeat(per_seed_b[:, None], 50, axis=1)
    result = method_difference(a, b)
    reference = st.ttest_rel(per_seed_a, per_seed_b)
    interval = reference.confidence_interval(0.95)
    assert result.test_set_var == 0
    assert result.pvalue == pytest.approx(reference.pvalue)
    assert (result.low, result.high) == pytest.approx((interval.low, interval.high))


def test_one_seed_is_not_testable_and_identical_methods_do_not_differ():
    one = method_difference(np.ones((1, 10)), np.zeros((1, 10)))
    assert not one.testable and math.isnan(one.pvalue) and one.estimate == 1.0
    same = np.random.default_rng(0).random((3, 20))
    assert method_difference(same, same).pvalue == 1.0
    with pytest.raises(ValueError, match="one shape"):
        method_difference(np.ones((3, 10)), np.ones((2, 10)))


def test_power_is_the_noncentral_t_without_test_set_variance_and_simulates_with_it():
    for seeds in (2, 3, 5, 10):
        shift = 0.02 / math.sqrt(3.75e-4 / seeds)
        critical = st.t.isf(0.025, seeds - 1)
        expected = st.nct.sf(critical, seeds - 1, shift) + st.nct.cdf(-critical, seeds - 1, shift)
        assert power_at(0.02, 3.75e-4, 0.0, seeds) == pytest.approx(expected, abs=1e-8)
    # with a test-set term: Monte Carlo of the same normal model
    rng = np.random.default_rng(700)
    seeds, diff, seed_var, test_var = 4, 0.02, 4e-4, 3e-5
    d = diff + rng.normal(0, math.sqrt(test_var), (20000, 1))  # shared test-set error
    d = d + rng.normal(0, math.sqrt(seed_var), (20000, seeds))
    mean, var = d.mean(axis=1), d.var(axis=1, ddof=1)
    t, z = st.t.isf(0.025, seeds - 1), st.norm.isf(0.025)
    simulated = np.mean(mean**2 > t * t * var / seeds + z * z * test_var)
    assert power_at(diff, seed_var, test_var, seeds) == pytest.approx(simulated, abs=0.015)


def test_seeds_for_power_grows_with_noise_and_stops_where_the_test_set_forbids():
    assert seeds_for_power(0.02, 1e-4, 0.0) < seeds_for_power(0.02, 4e-4, 0.0)
    assert seeds_for_power(0.0, 1e-4, 0.0) is None
    assert seeds_for_power(0.001, 1e-6, 1e-4) is None  # the test-set sd is 10x the difference


def test_noninferiority_at_the_margin_passes_at_rate_alpha():
    rng = np.random.default_rng(800)
    margin, passed = 0.01, 0
    for _ in range(1000):
        base = rng.normal(0.7, 0.1, (5, 200)) + rng.normal(0, 0.02, (5, 1))
        new = base - margin + rng.normal(0, 0.02, (5, 1)) + rng.normal(0, 0.05, (5, 200))
        passed += noninferiority(method_difference(new, base), margin).passed
    assert passed / 1000 <= 0.065
    clear = noninferiority(method_difference(base + 0.05, base), margin)
    assert clear.passed and clear.pvalue < 0.05 and clear.low > -margin


@pytest.mark.slow
def test_a_real_aa_pair_on_the_smoke_suite_is_not_called_different(smoke_lora_store):
    """LoRA against itself with disjoint seed sets (0-2 and 3-5), trained for real."""
    from bench.core.status import Status
    from bench.evaluate.metrics import PER_EXAMPLE
    from bench.plan.suites import SUITES, expand
    from bench.store.cell_store import Store

    cells = expand(SUITES.get("smoke"), methods=["lora"], seeds=6)
    correct = []
    with Store(smoke_lora_store) as store:
        for cell in cells:
            assert store.status(cell.cell_id) == Status.OK
            rows = store.predictions(cell.cell_id)
            y, p = np.array([r["label"] for r in rows]), np.array([r["pred"] for r in rows])
            correct.append(PER_EXAMPLE["accuracy"](y, p))
    sd, flips = seed_sd_and_flips(np.array(correct))
    assert sd > 0 and flips > 0.01  # the seeds really differ
    result = method_difference(np.array(correct[:3]), np.array(correct[3:]))
    assert result.pvalue > 0.05 and result.low < 0 < result.high
