"""Win rate judged by a stored reward model: the counting and the sign test by hand, the judge
scoring a reply as its training scored it, and `judge` end to end on kept states (stored once,
on the page, refused without states)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from scipy.stats import binomtest

from bench.cell.kept_state import STATES_ENV
from bench.cli.main import main
from bench.core.spec import MethodChoice, SuiteSpec
from bench.evaluate.judge import ensemble, pair_accuracy, win_rate
from bench.plan.suites import SUITES, register_suite
from tests.helpers import tiny_cell


def test_win_rate_counts_ties_as_half_and_tests_wins_against_losses():
    policy = [2.0, 1.0, 0.5, 3.0, 0.0, 1.0]
    base = [1.0, 2.0, 0.5, 1.0, -1.0, 0.0]
    texts_p = ["a", "b", "c", "d", "e", "same"]
    texts_b = ["x", "y", "z", "w", "v", " same "]  # identical replies tie whatever the scores
    out = win_rate(policy, base, texts_p, texts_b)
    assert (out["wins"], out["losses"], out["ties"]) == (3, 1, 2)
    assert out["win_rate"] == pytest.approx((3 + 1) / 6)
    assert out["sign_p"] == pytest.approx(binomtest(3, 4, 0.5).pvalue)
    assert win_rate([1.0], [1.0], ["a"], ["b"])["sign_p"] == 1.0  # nothing decided


def test_the_panel_averages_its_judges_and_a_tie_is_not_a_right_pair():
    assert ensemble([[1.0, 0.0], [3.0, 2.0]]) == [2.0, 1.0]
    assert pair_accuracy([1.0, 2.0, 0.0], [0.0, 2.0, 1.0]) == pytest.approx(1 / 3)


def _prefs(method: str, **fields):
    spec = tiny_cell(method, model="tiny-llama", max_steps=3)
    return dataclasses.replace(spec, task="synthetic_prefs", **fields)


def test_the_judge_scores_a_reply_as_the_reward_model_scored_it_in_training():
    """rewards() on (prompt, chosen) gives the chosen scores of the cell's own evaluation."""
    from bench.cell.load import load_and_apply
    from bench.cell.setup import resolve
    from bench.evaluate.judge import rewards
    from bench.evaluate.preference import evaluate_pairs

    setup = resolve(_prefs("lora", preference_objective="reward"))
    torch.manual_seed(0)
    loaded = load_and_apply(setup)
    test = setup.split.test
    _, rows = evaluate_pairs(
        loaded.preference, loaded.model, loaded.test, setup.device, loaded.pad_id
    )
    got = rewards(
        loaded.model,
        loaded.tokenizer,
        test.texts,
        test.responses,
        setup.spec.max_length,
        setup.device,
    )
    assert got == pytest.approx([r["extra"]["chosen"] for r in rows], abs=1e-5)


@pytest.fixture
def prefs_suite():
    suite = register_suite(
        SuiteSpec(
            name="judge-test",
            models=("tiny-llama",),
            tasks=("synthetic_prefs",),
            methods=(MethodChoice("lora"),),
            seeds=(0,),
            budget={"train_size": 64, "max_length": 32, "batch_size": 8, "max_steps": 3},
            variants=({}, {"preference_objective": "reward"}),
        )
    )
    yield suite
    SUITES.remove(suite.name)


def test_judge_needs_kept_states_then_stores_one_judgement_per_policy(
    prefs_suite, tmp_path, monkeypatch, capsys
):
    from bench.store.cell_store import Store

    monkeypatch.delenv(STATES_ENV, raising=False)
    store = str(tmp_path / "s.sqlite")
    common = ["--suite", "judge-test", "--store", store]
    assert main(["run", *common, "--in-process", "--out", str(tmp_path / "out")]) == 0
    judge = ["judge", *common, "--prompts", "6", "--max-new-tokens", "4"]
    assert main(judge) == 2
    err = capsys.readouterr().err
    assert "0 stored DPO policy cell(s) and 0 reward model(s) with a kept state" in err
    assert "run --suite judge-test --keep-states --cells " in err

    # keeping states runs the stored cells again (their trained tensors are gone)
    assert main(["run", *common, "--in-process", "--keep-states", "--out", str(tmp_path)]) == 0
    monkeypatch.delenv(STATES_ENV)
    assert "2 stored cell(s) without a kept state run again" in capsys.readouterr().err
    assert main(judge) == 0
    assert "1 judgement(s) made" in capsys.readouterr().err
    with Store(store, read_only=True) as s:
        (judged,) = s.judgements()
        cells = {c["spec"].preference_objective: c["id"] for c in s.cells()}
    result = judged["result"]
    assert judged["policy"] == cells["dpo"] and result["judges"] == [cells["reward"]]
    assert result["prompts"] == len(result["rows"]) == 6
    assert result["wins"] + result["losses"] + result["ties"] == 6
    assert 0 <= result["win_rate"] <= 1 and 0 <= result["judge_accuracy"]["panel"] <= 1
    assert main(judge) == 0  # the same judgement again: kept, not redone
    assert "0 judgement(s) made, 1 already stored" in capsys.readouterr().err

    assert main(["report", "--suite", "judge-test", "--store", store, "--out", str(tmp_path)]) == 0
    page = (tmp_path / "judge-test.md").read_text()
    assert "Win rate of DPO replies against the reference's" in page
    assert f"`{cells['reward']}` (lora [reward model])" in page


def test_judge_refuses_an_id_that_is_not_such_a_cell(prefs_suite, tmp_path, capsys):
    from bench.store.cell_store import Store

    store = str(tmp_path / "s.sqlite")
    common = ["--suite", "judge-test", "--store", store]
    assert main(["judge", *common]) == 2
    assert "there is no store at" in capsys.readouterr().err
    Store(store).close()
    assert main(["judge", *common, "--judges", "0123456789abcdef"]) == 2
    err = capsys.readouterr().err
    assert "--judges 0123456789abcdef: not a stored ok reward cell of this suite" in err
    assert "(those are: none)" in err
