"""EWC pulls trained parameters to their start with a Fisher weight; forgetting is recorded."""

import pytest
import torch

from bench.cell.run import run_cell
from bench.core.registry import METHODS
from bench.data.general_text import FISHER_POOL, HELD_OUT, general_text
from bench.models.sources import get_model
from bench.regimes.ewc import EWC
from bench.regimes.forgetting import backbone_and_lm_head, encode_texts, general_text_state
from tests.helpers import tiny_cell


def _causal_llama():
    torch.manual_seed(0)
    return get_model("tiny-llama").load("generation", 0)


def test_general_text_parts_are_fixed_and_disjoint():
    pool, held = general_text("synthetic_words")
    assert len(pool) == FISHER_POOL and len(held) == HELD_OUT and not set(pool) & set(held)
    assert (pool, held) == general_text("synthetic_words")
    with pytest.raises(ValueError, match="known: news_articles, synthetic_words"):
        general_text("wikipedia")


def test_fisher_is_normalised_and_penalty_starts_at_zero():
    model, tok = _causal_llama()
    pool, _ = general_text("synthetic_words")
    ids = encode_texts(tok, pool[:4], 32)
    ewc = EWC(model, [], 2.0, ids, tok.pad_token_id, torch.device("cpu"))
    assert ewc.kind.startswith("empirical")
    values = torch.cat([f.flatten() for f in ewc.fisher.values()])
    assert (values >= 0).all() and values.mean().item() == pytest.approx(1.0, rel=1e-4)
    assert float(ewc.penalty()) == 0.0
    assert all(p.grad is None for p in model.parameters())
    name, param = next(iter(ewc.params.items()))
    with torch.no_grad():
        param.add_(0.1)
    expected = 0.5 * 2.0 * float((ewc.fisher[name] * 0.01).sum())
    assert float(ewc.penalty()) == pytest.approx(expected, rel=1e-4)


def test_encoder_without_lm_head_gets_uniform_fisher():
    torch.manual_seed(0)
    model, tok = get_model("tiny-bert").load("classification", 3)
    assert backbone_and_lm_head(model)[1] is None
    ewc = EWC(model, ["classifier"], 1.0, [[5, 6, 7]], 0, torch.device("cpu"))
    assert ewc.kind.startswith("uniform") and all((f == 1).all() for f in ewc.fisher.values())
    assert not any(n.startswith("classifier") for n in ewc.params)


def test_forgetting_state_has_lm_loss_only_with_an_lm_head():
    model, tok = _causal_llama()
    _, held = general_text("synthetic_words")
    ids = encode_texts(tok, held[:6], 32)
    state = general_text_state(model, ids, tok.pad_token_id, torch.device("cpu"))
    assert state["lm_loss"] > 0 and state["embeddings"].shape == (6, 32)


def test_every_method_accepts_ewc_settings_and_still_rejects_unknown_ones():
    for _, info in METHODS.items():
        assert info.resolve_settings({"ewc_lambda": 1.0})["ewc_lambda"] == 1.0
    with pytest.raises(ValueError, match="ewc_lambda"):
        METHODS.get("lora").resolve_settings({"ewc_lamda": 1.0})


def test_strong_ewc_reduces_drift_and_is_recorded():
    from bench.core.spec import freeze_settings

    plain = run_cell(tiny_cell("full", model="tiny-llama", max_steps=6, lr=3e-3))
    spec = tiny_cell("full", model="tiny-llama", max_steps=6, lr=3e-3)
    pulled_spec = type(spec)(
        **{**spec.__dict__, "settings": freeze_settings({"ewc_lambda": 1e4, "ewc_samples": 4})}
    )
    pulled = run_cell(pulled_spec)
    assert plain["ewc"] is None and pulled["ewc"]["ewc_lambda"] == 1e4
    assert pulled["ewc"]["fisher"].startswith("uniform")  # classification llama: untied, no head
    assert plain["forgetting"]["lm_loss_before"] is None
    assert pulled["forgetting"]["embedding_drift"] < plain["forgetting"]["embedding_drift"]
    assert pulled_spec.cell_id != spec.cell_id


def test_ewc_on_lora_sft_uses_the_lm_fisher_in_lora_space():
    from bench.core.spec import CellSpec, freeze_settings

    settings = {**METHODS.get("lora").resolve_settings({}), "ewc_lambda": 10.0, "ewc_samples": 4}
    spec = CellSpec(
        model="tiny-llama",
        task="synthetic_reverse",
        method="lora",
        seed=0,
        settings=freeze_settings(settings),
        lr=3e-3,
        train_size=100,
        max_length=32,
        batch_size=16,
        max_steps=4,
        max_new_tokens=4,
    )
    record = run_cell(spec)
    assert record["ewc"]["fisher"] == "empirical, 4 texts"
    assert record["ewc"]["parameters"] == record["params"]["method_params"]
    forgot = record["forgetting"]
    assert forgot["lm_loss_before"] > 0 and forgot["lm_loss_after"] > 0
    assert forgot["lm_loss_increase"] == pytest.approx(
        forgot["lm_loss_after"] - forgot["lm_loss_before"]
    )
