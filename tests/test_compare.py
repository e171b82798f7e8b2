"""Comparisons read from the store: method-level, seed-paired, Holm-corrected."""

import numpy as np
import pytest

from bench.evaluate.metrics import METRICS
from bench.report.suite_page import _comparison_caption, cells_frame
from bench.stats import paired as stats
from bench.stats.compare import (
    compare_to_baseline,
    comparison_columns,
    method_level_difference,
)
from bench.stats.method_level import method_difference, method_difference_metric
from tests import paired_tests as reference
from tests.helpers import tiny_cell


def _record(preds, labels, accuracy):
    return {
        "status": "ok",
        "primary_metric": "accuracy",
        "metrics": {"accuracy": accuracy},
        "params": {"method_params": 1, "head_params": 1, "total_params": 10, "trainable_pct": 20.0},
        "speed": {
            "step_time_median_s": 0.1,
            "samples_per_s": 1.0,
            "tokens_per_s": 1.0,
            "steady_steps": 1,
            "steps": 4,
        },
        "memory": {"rss_peak_bytes": 1},
        "energy": {"energy_per_sample_j": None},
        "wall_s": 1.0,
        "data": {"majority_baseline": 0.4, "split_hash": "h"},
        "predictions": [
            {"idx": i, "label": int(y), "pred": int(p), "score": 1.0}
            for i, (y, p) in enumerate(zip(labels, preds, strict=True))
        ],
    }


def test_comparison_matches_the_tests_it_is_made_of(store):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    truth = {}
    for seed in (0, 1, 2):
        for method, skill in (("full", 0.8), ("lora", 0.7), ("bitfit", 0.79)):
            preds = np.where(rng.random(200) < skill, labels, (labels + 1) % 3)
            acc = float(np.mean(preds == labels))
            truth[(method, seed)] = (preds, acc)
            store.save(tiny_cell(method, seed=seed), _record(preds, labels, acc))
    frame = cells_frame(store.cells())
    comparisons = compare_to_baseline(frame, store, "full")
    assert sorted(c.method for c in comparisons) == ["bitfit", "lora"]
    lora = next(c for c in comparisons if c.method == "lora")
    correct = {k: v[0] == labels for k, v in truth.items()}
    expected = method_difference(
        [correct[("lora", s)] for s in range(3)], [correct[("full", s)] for s in range(3)]
    )
    assert lora.result == expected
    ref_t = reference.paired_ttest(
        [truth[("lora", s)][1] for s in range(3)], [truth[("full", s)][1] for s in range(3)]
    )
    assert lora.result.estimate == pytest.approx(ref_t.estimate)
    assert lora.result.low <= ref_t.low and lora.result.high >= ref_t.high  # never narrower

    table = comparison_columns(comparisons, "full").set_index("method")
    holm = stats.holm([c.result.pvalue for c in comparisons]).pvalues
    at = [c.method for c in comparisons].index("lora")
    assert table.loc["lora", "p (Holm)"] == f"{holm[at]:.3g}"
    assert table.loc["lora", "Δ vs full [95% CI]"].startswith(f"{ref_t.estimate:+.4f} [")
    needed = lora.result.seeds_for_power()
    assert table.loc["lora", "seeds for 80% power"].startswith(str(needed))
    low, high = lora.result.seeds_for_power_range()
    assert low <= needed and (high is None or high >= needed)  # 90% interval of the seed var

    # a method with collapsed seeds is not tested, and leaves the Holm family
    held_out = compare_to_baseline(frame, store, "full", untested={"bitfit"})
    assert [c.method for c in held_out] == ["lora"]
    why = {"bitfit": "1 of 3 seeds collapsed (seed 2)"}
    table = comparison_columns(held_out, "full", why).set_index("method")
    assert (
        table.loc["bitfit", "Δ vs full [95% CI]"] == "not tested: 1 of 3 seeds collapsed (seed 2)"
    )
    assert table.loc["lora", "p (Holm)"] == f"{held_out[0].result.pvalue:.3g}"  # a family of one
    caption = _comparison_caption(held_out, "accuracy")
    assert "family of this table's 1 tested comparison(s) with `full` (lora)" in caption
    assert "not adjusted" in caption


def test_a_metric_that_does_not_decompose_is_resampled_over_examples(store):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 3, 150)
    preds = {}
    for seed in (0, 1):
        for method, skill in (("full", 0.8), ("lora", 0.6)):
            p = np.where(rng.random(150) < skill, labels, (labels + 1) % 3)
            preds[(method, seed)] = p
            record = _record(p, labels, 0.0)
            record["primary_metric"] = "macro_f1"
            record["metrics"] = {"macro_f1": METRICS["macro_f1"](labels, p)}
            store.save(tiny_cell(method, seed=seed), record)
    frame = cells_frame(store.cells())
    result = method_level_difference(store, frame, "lora", "full", n_resamples=200)
    expected = method_difference_metric(
        labels,
        [preds[("lora", s)] for s in (0, 1)],
        [preds[("full", s)] for s in (0, 1)],
        METRICS["macro_f1"],
        n_resamples=200,
    )
    assert result == expected and result.estimate < 0 and result.test_set_var > 0
