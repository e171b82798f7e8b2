import pytest

from bench.core.errors import UnknownName
from bench.models.sources import (
    byte_tokenizer,
    expand_roles,
    get_model,
    head_module_names,
    resolve_targets,
)


def _load(name):
    model, tok = get_model(name).load("classification", 3)
    return model, tok


def test_roles_map_to_bert_modules():
    model, _ = _load("tiny-bert")
    names = resolve_targets(model, ("q", "v"))
    assert names == [
        "bert.encoder.layer.0.attention.self.query",
        "bert.encoder.layer.1.attention.self.query",
        "bert.encoder.layer.0.attention.self.value",
        "bert.encoder.layer.1.attention.self.value",
    ]
    mlp = resolve_targets(model, "mlp")  # BERT has no gate: the group skips it
    assert all(n.endswith(("intermediate.dense", "output.dense")) for n in mlp)
    assert not any("attention" in n for n in mlp) and len(mlp) == 4


def test_roles_map_to_llama_and_gpt2_modules():
    llama, _ = _load("tiny-llama")
    assert len(resolve_targets(llama, "all-linear")) == 2 * 7
    gpt2, _ = _load("tiny-gpt2")
    assert resolve_targets(gpt2, "q,v") == [
        "transformer.h.0.attn.c_attn",
        "transformer.h.1.attn.c_attn",
    ]


def test_missing_role_lists_the_modules_that_exist():
    model, _ = _load("tiny-bert")
    with pytest.raises(ValueError, match="role 'gate' does not exist on bert.*query.*value"):
        resolve_targets(model, "gate")


def test_role_groups_expand():
    assert expand_roles("attention") == ("q", "k", "v", "o")
    assert expand_roles("q, v") == ("q", "v")


def test_heads_and_kinds():
    bert, _ = _load("tiny-bert")
    llama, _ = _load("tiny-llama")
    assert head_module_names(bert) == ["classifier"]
    assert head_module_names(llama) == ["score"]
    assert get_model("tiny-bert").kind == "encoder" and get_model("tiny-llama").kind == "decoder"
    assert not get_model("tiny-bert").real_weights


def test_byte_tokenizer_round_trips():
    tok = byte_tokenizer()
    ids = tok("héllo")["input_ids"]
    assert max(ids) < 260 and tok.decode(ids) == "héllo"


def test_unknown_config_names_the_shipped_ones():
    with pytest.raises(UnknownName, match="unknown shipped config 'nope'.*Llama-2-7B"):
        get_model("config:nope")
