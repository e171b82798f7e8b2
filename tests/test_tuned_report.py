"""The tuned-against-registered report: found in the store around a suite's configurations
(search trials, cells at the chosen rates, k-shot and self-training cells)."""

from __future__ import annotations

import dataclasses

import numpy as np

from bench.core.spec import CellSpec, MethodChoice, SuiteSpec
from bench.plan.suites import expand
from bench.report.tuned_page import Found, _coverage, find, tuned_report
from bench.search.grid import choose, final_cells, trial_cells
from bench.store.cell_store import Store
from tests.test_compare import _record

SUITE = SuiteSpec(
    name="tiny-fair",
    models=("config:tiny-bert",),
    tasks=("synthetic_rule",),
    methods=(MethodChoice("full", lr=1e-3), MethodChoice("bitfit", lr=1e-2)),
    seeds=(0, 1, 2),
    budget={"train_size": 120, "max_length": 32, "batch_size": 16, "max_steps": 4},
)
LABELS = np.random.default_rng(0).integers(0, 2, 400)


def _save(store: Store, spec: CellSpec, accuracy: float) -> None:
    rng = np.random.default_rng([spec.seed, int(accuracy * 1000)])
    right = rng.random(len(LABELS)) < accuracy
    preds = np.where(right, LABELS, 1 - LABELS)
    record = _record(preds, LABELS, float(right.mean()))
    record["data"]["train_examples"] = 120
    if spec.self_training is not None:
        kept = {"kept": 90, "pool": 112, "pseudo_label_accuracy": 0.8}
        record["regime"] = {"self_training": kept}
    store.save(spec, record)


def test_the_report_shows_where_tuning_changes_the_ranking_the_k_curve_and_self_training(
    tmp_path,
):
    cells = expand(SUITE)
    # bitfit's registered rate is too high: a third of it wins; full's own rate is best
    accuracy = {("full", 1e-3): 0.8, ("bitfit", 1e-2): 0.6, ("bitfit", 3e-3): 0.9}
    with Store(tmp_path / "s.sqlite") as store:
        for spec in cells:
            _save(store, spec, accuracy[(spec.method, spec.lr)])
        assert tuned_report(store, SUITE, "cmd") is None  # no search stored yet
        trials = trial_cells(cells, [0.3, 1.0], seeds=1, relative=True)
        on_validation = {
            ("full", 3e-4): 0.5,
            ("full", 1e-3): 0.8,
            ("bitfit", 3e-3): 0.7,
            ("bitfit", 1e-2): 0.6,
        }
        for spec in trials:
            _save(store, spec, on_validation[(spec.method, spec.lr)])
        tuned = final_cells(cells, choose(store, trials))
        assert {c.lr for c in tuned if c.method == "bitfit"} == {3e-3}
        for spec in tuned:
            if spec.method == "bitfit":
                _save(store, spec, 0.9)
        for spec in tuned:
            for k, acc in ((4, 0.55), (16, 0.7)):
                _save(store, dataclasses.replace(spec, shots=k, max_steps=3), acc)
            if spec.method == "bitfit":
                taught = dataclasses.replace(spec, shots=4, max_steps=3, self_training=0.9)
                _save(store, taught, 0.65)
        found = find(store, SUITE)
        assert len(found.trials) == 4 and found.tuned == tuned and len(found.regimes) == 15
        text = tuned_report(store, SUITE, "cmd", plot=(tmp_path, "tiny-fair"))
    assert text is not None
    for heading in ("## The search", "## The suite's rates against tuned ones", "k-shot curve"):
        assert heading in text
    assert "bitfit now ranks above full (registered: rank 2 vs 1)" in text
    assert "a method-level difference at the 5% level" in text
    assert "| bitfit   | 0.01            |" in text and "| 0.003      |" in text
    assert "| k=4 " in text and "| k=16 " in text and "(n=120)" in text
    assert "the search kept the registered rate" in text
    assert "90 of 112" in text and "0.800" in text
    assert (tmp_path / "tiny-fair-kshot-synthetic_rule.png").exists()
    assert "The search covered 1 of the suite's 1 task x model pairs." in text
    assert ", p (Holm) " in text  # Δ vs full: the store's family, as on every page


def test_the_tasks_a_search_did_not_cover_are_named():
    wider = dataclasses.replace(SUITE, tasks=("synthetic_rule", "synthetic_reverse"))
    found = Found(expand(wider), [], [], [], {})
    text = _coverage(found, {("config:tiny-bert", "synthetic_rule")})
    assert text.startswith("The search covered 1 of the suite's 2 task x model pairs; not")
    assert "config:tiny-bert / synthetic_reverse" in text


def test_a_side_with_collapsed_seeds_is_not_tested():
    import pandas as pd

    from bench.report.tuned_page import _one_test

    rows = [
        {"variant": v, "seed": seed, "accuracy": 0.8, "majority": 0.5, "recall": recall}
        for v, seed, recall in (
            ("lora @ tuned", 0, {"a": 1.0, "b": 0.0}),
            ("lora @ tuned", 1, {"a": 0.8, "b": 0.8}),
            ("lora @ registered", 0, {"a": 0.8, "b": 0.8}),
            ("lora @ registered", 1, {"a": 0.8, "b": 0.8}),
        )
    ]
    text, result = _one_test(None, pd.DataFrame(rows), "lora @ tuned", "lora @ registered")
    assert result is None
    assert text == "not tested: lora @ tuned has 1 of 2 seeds collapsed (seed 0)"
