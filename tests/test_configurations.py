"""One identity for a configuration (cells that differ only in their seed), and failure modes
(collapse, below the majority class) as the reports use them."""

from __future__ import annotations

import dataclasses

import pandas as pd

from bench.stats.collapse import below_majority, collapse_note, is_collapsed, with_failure_modes
from bench.stats.configurations import (
    budget_key,
    configuration_key,
    scored_on_test,
    with_configurations,
)
from tests.helpers import tiny_cell


def _frame(specs):
    return pd.DataFrame(
        [{"spec": s, "method": s.method, "seed": s.seed, "trial": s.trial} for s in specs]
    )


def test_seeds_share_a_configuration_and_nothing_else_does():
    a, b = tiny_cell("lora", seed=0), tiny_cell("lora", seed=1)
    assert configuration_key(a) == configuration_key(b)
    for change in ({"lr": 1e-2}, {"trial": True}, {"train_size": 64}, {"shots": 8}):
        other = dataclasses.replace(a, **change)
        assert configuration_key(other) != configuration_key(a), change
    assert budget_key(tiny_cell("full")) == budget_key(a)  # methods compare within a budget
    assert budget_key(dataclasses.replace(a, train_size=64)) != budget_key(a)


def test_mixed_rates_and_trials_in_one_suite_are_named_apart_and_trials_left_out():
    """The defect the reports had: `full (lr 0.0001)` with 4 seeds, one a validation trial."""
    full = [tiny_cell("full", seed=s) for s in (0, 1, 2)]
    trial = dataclasses.replace(full[0], trial=True)
    fast = [dataclasses.replace(c, lr=1e-3) for c in full]
    lora = [tiny_cell("lora", seed=s) for s in (0, 1, 2)]
    small = [dataclasses.replace(c, train_size=64) for c in lora]
    named = with_configurations(_frame([*full, trial, *fast, *lora, *small]))
    variants = named.groupby("variant")["seed"].count().to_dict()
    assert variants == {
        "full": 1,  # the trial: alone in its budget (a trial is scored on other data)
        "full (lr 0.0001)": 3,
        "full (lr 0.001)": 3,
        "lora": 6,  # one configuration per budget: the budget tells them apart
    }
    wheres = named.groupby("where")["seed"].count().to_dict()
    assert wheres == {
        "tiny-bert / synthetic_rule / cpu (train_size 200; test-scored)": 9,
        "tiny-bert / synthetic_rule / cpu (train_size 200; search trial, validation-scored)": 1,
        "tiny-bert / synthetic_rule / cpu (train_size 64; test-scored)": 3,
    }
    assert named["config"].nunique() == 5
    scored = with_configurations(scored_on_test(_frame([*full, trial, *fast])))
    assert not scored["trial"].any() and set(scored["variant"]) == {
        "full (lr 0.0001)",
        "full (lr 0.001)",
    }


def test_a_classifier_that_recalls_one_class_has_collapsed():
    assert is_collapsed({"ham": 1.0, "spam": 0.0})
    assert is_collapsed({"a": 0.0, "b": 0.0, "c": 1.0})
    assert not is_collapsed({"ham": 0.99, "spam": 0.05})
    assert not is_collapsed(None) and not is_collapsed({"only": 1.0})  # nothing to compare
    assert below_majority(0.366, 0.429) and not below_majority(0.5, 0.429)
    assert not below_majority(None, 0.4) and not below_majority(float("nan"), 0.4)
    frame = pd.DataFrame(
        {
            "seed": [0, 1, 2],
            "recall": [{"ham": 1.0, "spam": 0.0}, {"ham": 0.99, "spam": 0.9}, None],
            "accuracy": [0.877, 0.98, 0.30],
            "majority": [0.877, 0.877, 0.877],
        }
    )
    flagged = with_failure_modes(frame)
    assert list(flagged["collapsed"]) == [True, False, False]
    assert list(flagged["below_majority"]) == [False, False, True]
    assert collapse_note(flagged) == "1 of 3 seeds collapsed (seed 0)"
    assert collapse_note(flagged[flagged["seed"] > 0]) == ""
