"""Preference tuning: the DPO and reward losses against the paper's formulas on fixed numbers,
sequence log-probabilities by hand, the pairs' encoding and task, the reference switching (the
base inside a LoRA model, no second copy) and the settings' checks."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bench.core.spec import CellSpec
from bench.data.splits import IGNORE, PAIR_LABELS, Encoded, collate, model_inputs
from bench.regimes.preference import dpo_loss, reward_loss, sequence_logprobs
from tests.helpers import tiny_cell


def _log_sigmoid(x: float) -> float:
    return -math.log1p(math.exp(-x))


def test_dpo_loss_is_the_papers_formula_on_fixed_log_probabilities():
    # Rafailov et al. (2023), eq. 7: -log sigma(beta log(pi_c/ref_c) - beta log(pi_r/ref_r))
    pc, pr = torch.tensor([-5.0, -9.0]), torch.tensor([-7.0, -6.5])
    rc, rr = torch.tensor([-6.0, -8.0]), torch.tensor([-6.0, -7.0])
    beta = 0.1
    losses, chosen, rejected = dpo_loss(pc, pr, rc, rr, beta)
    for i in range(2):
        z = beta * ((pc[i] - rc[i]) - (pr[i] - rr[i])).item()
        assert losses[i].item() == pytest.approx(-_log_sigmoid(z), rel=1e-6)
        assert chosen[i].item() == pytest.approx(beta * (pc[i] - rc[i]).item())
        assert rejected[i].item() == pytest.approx(beta * (pr[i] - rr[i]).item())
    # a policy equal to its reference: every pair at log 2
    same, _, _ = dpo_loss(pc, pr, pc, pr, beta)
    assert torch.allclose(same, torch.full((2,), math.log(2.0)))


def test_reward_loss_is_bradley_terry():
    chosen, rejected = torch.tensor([1.5, -0.2]), torch.tensor([0.5, 0.3])
    got = reward_loss(chosen, rejected)
    expected = [-_log_sigmoid(1.0), -_log_sigmoid(-0.5)]
    assert got.tolist() == pytest.approx(expected, rel=1e-6)


def test_sequence_log_probabilities_count_response_tokens_only():
    torch.manual_seed(0)
    logits = torch.randn(1, 5, 7)  # 1 virtual token + 4 real positions
    labels = torch.tensor([[IGNORE, IGNORE, 3, 5]])  # prompt of 2 tokens, response of 2
    got = sequence_logprobs(logits, labels)
    real = logits[:, 1:].log_softmax(-1)  # the virtual position's logits are dropped
    # position t predicts the token at t + 1: tokens 3 and 5 from positions 1 and 2
    expected = real[0, 1, 3] + real[0, 2, 5]
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


def test_a_pair_batch_holds_chosen_then_rejected_with_response_labels():
    encoded = Encoded(
        input_ids=[[1, 2, 3], [4, 5]],
        labels=[0, 1],
        token_labels=[[IGNORE, 2, 3], [IGNORE, 5]],
        rejected_ids=[[1, 2, 9, 9], [4, 8]],
        rejected_labels=[[IGNORE, 2, 9, 9], [IGNORE, 8]],
    )
    batch = collate(encoded, [1, 0], pad_id=0)
    assert batch["input_ids"].tolist() == [[4, 5, 0, 0], [1, 2, 3, 0], [4, 8, 0, 0], [1, 2, 9, 9]]
    assert batch[PAIR_LABELS][3].tolist() == [IGNORE, 2, 9, 9]
    assert batch[PAIR_LABELS][0].tolist() == [IGNORE, 5, IGNORE, IGNORE]
    assert batch["attention_mask"].sum().item() == 2 + 3 + 2 + 4
    assert encoded.sequences([1]) == [[4, 5], [4, 8]]


def test_the_packaged_pairs_prefer_a_prompts_own_reply_to_another_topics():
    from bench.core.registry import TASKS

    raw = TASKS.get("chatterbot_prefs").load()
    again = TASKS.get("chatterbot_prefs").load()
    assert raw.rejected == again.rejected  # seeded
    assert len({t.strip().lower() for t in raw.texts}) == len(raw.texts)  # one pair per prompt
    by_response: dict[str, set[int]] = {}
    for response, topic in zip(raw.responses or [], raw.labels, strict=True):
        by_response.setdefault(response, set()).add(topic)
    for rejected, topic in zip(raw.rejected or [], raw.labels, strict=True):
        assert by_response[rejected] - {topic}  # drawn from a pair of another topic


def _dpo(method: str, **fields) -> CellSpec:
    spec = tiny_cell(method, model="tiny-llama", max_steps=3)
    return dataclasses.replace(spec, task="synthetic_prefs", **fields)


@pytest.mark.parametrize("method", ["lora", "ia3", "prompt_tuning", "loha"])
def test_switching_the_method_off_gives_the_base_back(method):
    """What each method that declares it promises: with the method switched off, the trained
    model computes what a fresh base computes (so DPO's reference needs no second copy)."""
    from bench.cell.load import load_and_apply
    from bench.cell.setup import resolve

    setup = resolve(_dpo(method))
    torch.manual_seed(0)
    loaded = load_and_apply(setup)
    assert loaded.preference is not None and loaded.preference.reference is not None
    assert loaded.preference.reference.strategy == "adapter-off"
    assert loaded.preference.reference.model is loaded.model  # no second model
    with torch.no_grad():  # move the method away from its identity start
        for param in loaded.model.parameters():
            if param.requires_grad:
                param.add_(0.05 * torch.randn_like(param))
    torch.manual_seed(0)
    base = setup.model_info.load(setup.load_kind, setup.num_labels)[0].eval()
    batch = collate(loaded.train, [0, 1, 2], loaded.pad_id)
    reference = loaded.preference.reference.logprobs(batch)
    with torch.no_grad():
        fresh = sequence_logprobs(base(**model_inputs(batch)).logits, batch[PAIR_LABELS])
        trained = sequence_logprobs(loaded.model(**model_inputs(batch)).logits, batch[PAIR_LABELS])
    assert torch.allclose(reference, fresh, atol=1e-5)
    assert not torch.allclose(trained, fresh, atol=1e-5)  # the method does change the model


def test_lora_with_its_adapter_off_trains_as_lora_against_a_copy():
    """The two references are the same function: the same losses and test scores, while only
    the copy holds a second model's bytes."""
    from bench.cell.run import run_cell

    off, copy = run_cell(_dpo("lora")), run_cell(_dpo("lora", dpo_reference="copy"))
    assert off["preference"]["reference"] == "adapter-off"
    assert off["preference"]["reference_bytes"] == 0
    assert copy["preference"]["reference"] == "copy"
    assert copy["preference"]["reference_bytes"] > 0
    assert off["train_loss"]["first"] == pytest.approx(math.log(2.0), abs=1e-6)
    assert copy["train_loss"] == pytest.approx(off["train_loss"])
    assert copy["metrics"] == pytest.approx(off["metrics"])
    full = run_cell(_dpo("full"))
    assert full["preference"]["reference"] == "copy"
    assert full["preference"]["reference_bytes"] == copy["preference"]["reference_bytes"]


def test_a_reward_model_scores_pairs_with_its_head():
    from bench.cell.run import run_cell

    out = run_cell(_dpo("lora", preference_objective="reward"))
    assert out["preference"] == {
        "objective": "reward",
        "beta": None,
        "reference": None,
        "reference_bytes": None,
    }
    assert out["params"]["head_params"] == 32  # one score per sequence: hidden 32, no bias
    assert set(out["metrics"]) == {"test_loss", "reward_accuracy", "reward_margin"}
    assert 0 <= out["metrics"]["reward_accuracy"] <= 1


def test_settings_that_change_nothing_leave_the_id_alone():
    from bench.plan.preferences import canonical

    dpo = _dpo("lora")
    reward = dataclasses.replace(dpo, preference_objective="reward")
    assert canonical(dataclasses.replace(reward, dpo_beta=0.5, dpo_reference="copy")) == reward
    full = _dpo("full")
    assert canonical(dataclasses.replace(full, dpo_reference="copy")) == full  # a copy anyway
    lora_copy = dataclasses.replace(dpo, dpo_reference="copy")
    assert canonical(lora_copy) == lora_copy
    assert lora_copy.cell_id != dpo.cell_id
    assert "dpo_beta" not in tiny_cell("lora").to_json()  # older cells keep their ids


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"task": "synthetic_rule", "dpo_beta": 0.2}, "--dpo-beta 0.2: synthetic_rule is a"),
        ({"dpo_beta": 0.0}, "--dpo-beta 0 is not allowed"),
        ({"model": "tiny-bert"}, "tiny-bert is an encoder"),
        ({"preference_objective": "ppo"}, "'ppo' is not one of dpo, reward"),
    ],
)
def test_bad_preference_settings_are_refused_by_name(fields, needle):
    from bench.plan.validate import check_preference

    with pytest.raises(ValueError, match=needle.replace("(", r"\(").replace("-", r"\-")):
        check_preference(dataclasses.replace(_dpo("lora"), **fields))


def test_the_suite_crosses_objectives_and_keeps_one_cell_per_computation():
    from bench.plan.suites import SUITES, expand

    cells = expand(SUITES.get("preferences"))
    kinds = {(c.method, c.preference_objective, c.dpo_reference) for c in cells}
    assert kinds == {
        ("lora", "dpo", "auto"),
        ("lora", "dpo", "copy"),
        ("lora", "reward", "auto"),
        ("full", "dpo", "auto"),
        ("full", "reward", "auto"),
    }
    assert len(cells) == 15


def test_the_page_keeps_objectives_apart_and_tests_each_against_its_full(store):
    """One table per objective, the preference table with its references, a test per
    objective against full fine-tuning, and the copy's twin scored alike."""
    from bench.core.spec import SuiteSpec
    from bench.execute.runner import run_cells
    from bench.report.suite_page import suite_report

    cells = [
        _dpo(m, seed=s, **f)
        for s in (0, 1)
        for m, f in (
            ("lora", {}),
            ("lora", {"dpo_reference": "copy"}),
            ("full", {}),
            ("lora", {"preference_objective": "reward"}),
            ("full", {"preference_objective": "reward"}),
        )
    ]
    run_cells(cells, store, in_process=True)
    suite = SuiteSpec("prefs-test", ("tiny-llama",), ("synthetic_prefs",), ())
    page = suite_report(suite, cells, store, command="test")
    assert "DPO (against `full`):" in page
    assert "reward model (against `full [reward model]`):" in page
    assert "| DPO          | lora [reference copy] | copy" in page
    assert "- DPO: `lora` - `full`" in page and "family of 2" in page
    assert "- reward model: `lora [reward model]` - `full [reward model]`" in page
    assert "score the test pairs alike in 2 of 2 seeds" in page
