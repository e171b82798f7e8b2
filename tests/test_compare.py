"""Comparisons read from the store: seed-paired and example-paired, Holm-corrected."""

import numpy as np
import pytest

from bench import stats
from bench.compare import compare_to_baseline, comparison_columns
from bench.report import cells_frame
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
    ref_t = stats.paired_ttest(
        [truth[("lora", s)][1] for s in range(3)], [truth[("full", s)][1] for s in range(3)]
    )
    assert lora.seed_test.pvalue == pytest.approx(ref_t.pvalue)
    pooled_a = np.concatenate([truth[("lora", s)][0] == labels for s in range(3)])
    pooled_b = np.concatenate([truth[("full", s)][0] == labels for s in range(3)])
    assert lora.example_test.pvalue == pytest.approx(stats.mcnemar(pooled_a, pooled_b).pvalue)

    table = comparison_columns(comparisons, "full").set_index("method")
    holm_examples = stats.holm([c.example_test.pvalue for c in comparisons]).pvalues
    at = [c.method for c in comparisons].index("lora")
    assert table.loc["lora", "p examples (Holm)"] == f"{holm_examples[at]:.3g}"
    assert table.loc["lora", "Δ vs full [95% CI]"].startswith(f"{ref_t.estimate:+.4f} [")
