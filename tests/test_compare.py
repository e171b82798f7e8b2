"""Comparisons read from the store: method-level, seed-paired, Holm-corrected over one family
per budget, the same on every page."""

import dataclasses

import numpy as np
import pytest

from bench.core.spec import MethodChoice, SuiteSpec
from bench.evaluate.metrics import METRICS
from bench.plan.suites import expand
from bench.report.cells_table import cells_frame
from bench.report.comparison_book import ComparisonBook
from bench.report.comparisons_page import comparison_columns, comparisons_page, family_caption
from bench.report.suite_page import against_baseline, suite_report
from bench.stats import paired as stats
from bench.stats.compare import method_level_difference
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


def _three_methods(store, rng, labels, collapse=None, **budget):
    """full, lora, bitfit x 3 seeds; `collapse`: (method, seed) that predicts class 0 always."""
    truth = {}
    for seed in (0, 1, 2):
        for method, skill in (("full", 0.8), ("lora", 0.7), ("bitfit", 0.79)):
            preds = np.where(rng.random(len(labels)) < skill, labels, (labels + 1) % 3)
            if (method, seed) == collapse:
                preds = np.zeros_like(labels)
            acc = float(np.mean(preds == labels))
            truth[(method, seed)] = (preds, acc)
            record = _record(preds, labels, acc)
            record["per_class_recall"] = {
                str(k): float(np.mean(preds[labels == k] == k)) for k in range(3)
            }
            store.save(tiny_cell(method, seed=seed, **budget), record)
    return truth


def _table(store, book):
    frame = cells_frame(store.cells())
    rows = against_baseline(frame[frame["status"] == "ok"], book)
    return rows, comparison_columns(rows).set_index("method")


def test_comparison_matches_the_tests_it_is_made_of(store):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    truth = _three_methods(store, rng, labels)
    book = ComparisonBook(store)
    rows, table = _table(store, book)
    assert sorted(m for m, _ in rows) == ["bitfit", "lora"]
    lora = dict(rows)["lora"]
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

    raw = [t.result.pvalue for _, t in rows]
    holm = stats.holm(raw).pvalues
    at = [m for m, _ in rows].index("lora")
    assert lora.family_size == 2 and lora.holm_p == holm[at]
    assert table.loc["lora", "p (Holm, family of the budget)"] == f"{holm[at]:.3g}"
    assert table.loc["lora", "Δ vs full [95% CI]"].startswith(f"{ref_t.estimate:+.4f} [")
    needed = lora.result.seeds_for_power()
    assert table.loc["lora", "seeds for 80% power"].startswith(str(needed))
    low, high = lora.result.seeds_for_power_range()
    assert low <= needed and (high is None or high >= needed)  # 90% interval of the seed var
    caption = family_caption(rows, "accuracy")
    assert "family of the 2 tested comparison(s) with `full`" in caption
    assert "comparisons.md#" in caption and "not adjusted" in caption


def test_a_collapsed_configuration_is_not_tested_and_leaves_the_family(store):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    _three_methods(store, rng, labels, collapse=("bitfit", 2))
    rows, table = _table(store, ComparisonBook(store))
    tested = dict(rows)
    assert tested["bitfit"].untested == "1 of 3 seeds collapsed (seed 2)"
    assert table.loc["bitfit", "Δ vs full [95% CI]"] == (
        "not tested: 1 of 3 seeds collapsed (seed 2)"
    )
    assert tested["lora"].family_size == 1  # a family of one: p is the raw p
    assert tested["lora"].holm_p == pytest.approx(tested["lora"].result.pvalue)


def test_a_collapsed_baseline_leaves_every_method_untested(store):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 200)
    _three_methods(store, rng, labels, collapse=("full", 1))
    rows, _ = _table(store, ComparisonBook(store))
    assert {t.untested for _, t in rows} == {
        "the baseline full has 1 of 3 seeds collapsed (seed 1)"
    }


def test_one_comparison_reads_the_same_on_every_page_and_its_family_is_listed(store):
    """Two suites share full and LoRA cells; the second adds BitFit and a second rate of full.
    Both pages print one p for LoRA vs full: Holm over the budget's family in the store (LoRA
    and BitFit, each against both rates of full), which comparisons.md lists."""
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 200)
    _three_methods(store, rng, labels)
    for seed in (0, 1, 2):  # full at a second rate: another configuration of the baseline
        preds = np.where(rng.random(200) < 0.75, labels, (labels + 1) % 3)
        store.save(tiny_cell("full", seed=seed, lr=1e-3), _record(preds, labels, 0.75))
    budget = {k: v for k, v in tiny_cell().__dict__.items() if k in {"train_size", "max_steps"}}
    small = SuiteSpec(
        name="small",
        models=("tiny-bert",),
        tasks=("synthetic_rule",),
        methods=(MethodChoice("full"), MethodChoice("lora")),
        seeds=(0, 1, 2),
        budget={**budget, "max_length": 32, "batch_size": 16},
    )
    wide = dataclasses.replace(small, name="wide", methods=(*small.methods, MethodChoice("bitfit")))
    book = ComparisonBook(store)
    pages = [suite_report(s, expand(s), store, "cmd", book=book) for s in (small, wide)]
    fresh = suite_report(small, expand(small), store, "cmd")  # a book of its own: same p
    lora = next(t for t in book.family(book.budgets()[0]) if t.variant.startswith("lora"))
    assert lora.family_size == 4  # lora and bitfit, each against full at both rates
    for text in (*pages, fresh):
        row = next(line for line in text.splitlines() if line.startswith("| lora "))
        assert f"| {lora.holm_p:.3g} " in row
        assert "family of the 4 tested comparison(s)" in text
    listing = comparisons_page(book, "cmd")
    assert listing.count("| lora ") == 2 and listing.count("| bitfit ") == 2
    assert "Family: 4 tested comparison(s)." in listing


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
