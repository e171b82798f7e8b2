"""Every method on a tiny BERT and a tiny Llama: exact counts, what trains, and that it learns."""

import math

import pytest
import torch

from bench.core.errors import Unsupported
from bench.core.method_api import MethodContext
from bench.core.registry import METHODS
from bench.meters.param_counts import count_parameters
from bench.models.sources import get_model, head_module_names

# Shapes of the tiny models in conftest: hidden 32, 2 layers, MLP 64, 4 heads (head_dim 8);
# the Llama has 2 key/value heads, so its k and v project 32 -> 16.
H, L, INTER, VOCAB, POS, LABELS = 32, 2, 64, 300, 64, 3
KV = 16
BERT_QV = [(H, H), (H, H)]  # (in, out) of the q and v projections of one layer
LLAMA_QV = [(H, H), (H, KV)]

# Settings that fit the tiny shapes (the defaults suit real models).
TINY_SETTINGS = {
    "fourierft": {"n_frequency": 100},
    "vblora": {"vector_length": 8},
    "vera": {"r": 16},
    "oft": {"block_size": 8},
}


def per_layer_qv(shapes, fn) -> int:
    return L * sum(fn(i, o) for i, o in shapes)


def bert_layer() -> int:
    return 4 * (H * H + H) + 2 * H + (H * INTER + INTER) + (INTER * H + H) + 2 * H


def llama_layer() -> int:
    attn = H * H + H * KV + H * KV + H * H
    return attn + 3 * H * INTER + 2 * H


def randlora(i: int, o: int, r: int = 32) -> int:
    small = min(i, o)
    bases = math.ceil(small / r)
    return r * bases + bases * small  # lambda (r x bases) and gamma (bases x min dim)


def lokr(i: int, o: int) -> int:
    # peft factorises 32 = 4 x 8 and 16 = 4 x 4; with r=8 >= max(b)/2 both factors are dense.
    factors = {32: (4, 8), 16: (4, 4)}
    (a_o, b_o), (a_i, b_i) = factors[o], factors[i]
    return a_o * a_i + b_o * b_i


def adapter(width: int, reduction: int = 16) -> int:
    b = width // reduction
    return (width * b + b) + (b * width + width)


# method -> (BERT count, Llama count) of the method's own trainable parameters.
EXPECTED = {
    "full": (
        VOCAB * H + POS * H + 2 * H + 2 * H + L * bert_layer() + H * H + H,
        VOCAB * H + L * llama_layer() + H,
    ),
    "bitfit": (L * (4 * H + H + INTER + H + H) + H + H, None),
    "freeze": (bert_layer(), llama_layer()),
    "ln_tuning": ((1 + 2 * L) * 2 * H, (2 * L + 1) * H),
    "lora": (
        per_layer_qv(BERT_QV, lambda i, o: 8 * (i + o)),
        per_layer_qv(LLAMA_QV, lambda i, o: 8 * (i + o)),
    ),
    "rslora": (2048, 1792),
    "pissa": (2048, 1792),
    "olora": (2048, 1792),
    "dora": (
        per_layer_qv(BERT_QV, lambda i, o: 8 * (i + o) + o),
        per_layer_qv(LLAMA_QV, lambda i, o: 8 * (i + o) + o),
    ),
    "adalora": (
        per_layer_qv(BERT_QV, lambda i, o: 12 * (i + o + 1)),
        per_layer_qv(LLAMA_QV, lambda i, o: 12 * (i + o + 1)),
    ),
    "qlora": (2048, 1792),
    "lora_8bit": (2048, 1792),
    "ia3": (L * (H + H + INTER), L * (KV + KV + INTER)),  # k, v outputs; MLP down input
    "loha": (
        per_layer_qv(BERT_QV, lambda i, o: 2 * 8 * (i + o)),
        per_layer_qv(LLAMA_QV, lambda i, o: 2 * 8 * (i + o)),
    ),
    "lokr": (per_layer_qv(BERT_QV, lokr), per_layer_qv(LLAMA_QV, lokr)),
    "vera": (
        per_layer_qv(BERT_QV, lambda i, o: 16 + o),
        per_layer_qv(LLAMA_QV, lambda i, o: 16 + o),
    ),
    "randlora": (per_layer_qv(BERT_QV, randlora), per_layer_qv(LLAMA_QV, randlora)),
    # bank of 64 vectors of length 8, plus top-k logits: r x (in/8 + out/8) x 64 per module
    "vblora": (
        64 * 8 + per_layer_qv(BERT_QV, lambda i, o: 4 * (i // 8 + o // 8) * 64),
        64 * 8 + per_layer_qv(LLAMA_QV, lambda i, o: 4 * (i // 8 + o // 8) * 64),
    ),
    # skew-symmetric blocks of 8 stored as 8 x 7 / 2 entries, in / 8 blocks per module
    "oft": (
        per_layer_qv(BERT_QV, lambda i, o: i // 8 * 28),
        per_layer_qv(LLAMA_QV, lambda i, o: i // 8 * 28),
    ),
    # one butterfly factor of (in / 4) blocks of 4 x 4, plus a scale per output
    "boft": (
        per_layer_qv(BERT_QV, lambda i, o: i // 4 * 16 + o),
        per_layer_qv(LLAMA_QV, lambda i, o: i // 4 * 16 + o),
    ),
    "hra": (per_layer_qv(BERT_QV, lambda i, o: i * 8), per_layer_qv(LLAMA_QV, lambda i, o: i * 8)),
    "fourierft": (L * 2 * 100, L * 2 * 100),
    "prompt_tuning": (20 * H, 20 * H),
    "prefix_tuning": (20 * L * 2 * H, 20 * L * 2 * KV),  # keys and values of every layer
    "p_tuning": (
        20 * H + (H * 128 + 128) + (128 * 128 + 128) + (128 * H + H),
        20 * H + (H * 128 + 128) + (128 * 128 + 128) + (128 * H + H),
    ),
    "houlsby": (L * 2 * adapter(H), L * 2 * adapter(H)),
    "pfeiffer": (L * adapter(H), L * adapter(H)),
    "bottleneck": (L * 2 * adapter(H), L * 2 * adapter(H)),  # placement both: Houlsby's
    # 0.5 % of every linear weight, rounded, at least one entry each
    "sparse": (
        L * (4 * max(1, round(0.005 * H * H)) + 2 * max(1, round(0.005 * H * INTER))),
        L
        * (
            2 * max(1, round(0.005 * H * H))
            + 2 * max(1, round(0.005 * H * KV))
            + 3 * max(1, round(0.005 * H * INTER))
        ),
    ),
}
HEAD = {"tiny-bert": H * LABELS + LABELS, "tiny-llama": H * LABELS}  # Llama's score: no bias
MODELS = ("tiny-bert", "tiny-llama")
CASES = [
    (m, k) for m in MODELS for k in sorted(EXPECTED) if EXPECTED[k][MODELS.index(m)] is not None
]


def prepared(model_name: str, method: str, total_steps: int = 10):
    torch.manual_seed(0)
    info = get_model(model_name)
    model, _ = info.load("classification", LABELS)
    heads = head_module_names(model)
    ctx = MethodContext(
        model_kind=info.kind,
        task_kind="classification",
        head_names=heads,
        seed=0,
        total_steps=total_steps,
    )
    method_info = METHODS.get(method)
    settings = method_info.resolve_settings(TINY_SETTINGS.get(method, {}))
    return method_info.apply(model, settings, ctx), heads, ctx


def batch(seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(4, 200, (8, 12), generator=g)
    return {
        "input_ids": ids,
        "attention_mask": torch.ones_like(ids),
        "labels": torch.randint(0, LABELS, (8,), generator=g),
    }


def test_every_registered_method_has_expected_counts():
    assert set(METHODS.names()) == set(EXPECTED)
    assert len(METHODS.names()) >= 20


@pytest.mark.parametrize(("model_name", "method"), CASES)
def test_trainable_count_matches_the_shapes(model_name, method):
    model, heads, _ = prepared(model_name, method)
    counts = count_parameters(model, heads)
    assert counts["method_params"] == EXPECTED[method][MODELS.index(model_name)]
    assert counts["head_params"] == HEAD[model_name]


@pytest.mark.parametrize(("model_name", "method"), CASES)
def test_one_step_changes_only_trainable_parameters(model_name, method):
    model, heads, ctx = prepared(model_name, method)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(**batch()).loss.backward()
    optimizer.step()
    for hook in ctx.step_hooks:
        hook(1)
    params = dict(model.named_parameters())
    changed = {n for n in params if not torch.equal(params[n], before[n])}
    assert changed <= trainable
    assert any(any(h in n.split(".") for h in heads) for n in changed)  # the head learned
    assert any(not any(h in n.split(".") for h in heads) for n in changed)  # and the method
    if method != "full":
        assert set(before) - trainable, "a parameter-efficient method must freeze something"


@pytest.mark.parametrize("method", sorted(EXPECTED))
def test_short_training_memorises_a_batch(method):
    model, _, ctx = prepared("tiny-bert", method, total_steps=50)
    # One learning rate for all: the recommended ones are tuned for real models and budgets.
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    data = batch()
    losses = []
    for step in range(1, 51):
        loss = model(**data).loss
        loss.backward()
        optimizer.step()
        for hook in ctx.step_hooks:
            hook(step)
        optimizer.zero_grad()
        losses.append(float(loss.detach()))
    assert sum(losses[-5:]) / 5 < losses[0] - 0.03, losses


def test_bitfit_is_unsupported_on_llama():
    with pytest.raises(Unsupported, match="has none outside its head"):
        prepared("tiny-llama", "bitfit")


@pytest.mark.parametrize("method", ["boft", "hra", "loha", "lokr", "oft", "olora"])
def test_methods_without_conv1d_support_are_unsupported_on_gpt2(method):
    with pytest.raises(Unsupported):
        prepared("tiny-gpt2", method)


def test_unsupported_kind_is_recorded_by_the_cell(tmp_path):
    from bench.cell.run import run_cell
    from bench.core.registry import register_method
    from tests.helpers import tiny_cell

    if "encoder_only_test" not in METHODS:
        register_method("encoder_only_test", family="test", lr=1e-3, supports=("encoder",))(
            lambda model, settings, ctx: model
        )
    try:
        with pytest.raises(Unsupported, match="supports encoder models; 'tiny-llama' is a decoder"):
            run_cell(tiny_cell("encoder_only_test", model="tiny-llama"))
    finally:
        METHODS.remove("encoder_only_test")


@pytest.mark.parametrize("method", ["qlora", "lora_8bit"])
def test_quantized_base_stays_frozen_and_quantized(method):
    model, _, _ = prepared("tiny-llama", method)
    base = {n: p for n, p in model.named_parameters() if "base_layer.weight" in n}
    assert base and all(not p.requires_grad for p in base.values())
    dtype = torch.uint8 if method == "qlora" else torch.int8
    assert all(p.dtype == dtype for p in base.values())
    if method == "qlora":
        assert all(p.quant_state.quant_type == "nf4" for p in base.values())
    snapshot = {n: p.detach().clone() for n, p in base.items()}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model(**batch()).loss.backward()
    optimizer.step()
    assert all(torch.equal(p, snapshot[n]) for n, p in base.items())


def test_qlora_fp4_setting():
    info = get_model("tiny-bert")
    model, _ = info.load("classification", LABELS)
    ctx = MethodContext("encoder", "classification", head_module_names(model), 0)
    qlora = METHODS.get("qlora")
    model = qlora.apply(model, qlora.resolve_settings({"quant_type": "fp4"}), ctx)
    types = {
        p.quant_state.quant_type
        for n, p in model.named_parameters()
        if "base_layer" in n and p.dtype == torch.uint8
    }
    assert types == {"fp4"}
    with pytest.raises(ValueError, match="quant_type 'int3' is not one of nf4, fp4"):
        qlora.apply(
            info.load("classification", LABELS)[0],
            qlora.resolve_settings({"quant_type": "int3"}),
            ctx,
        )


def test_freeze_by_fraction_and_bad_values():
    model, heads, ctx = prepared("tiny-bert", "freeze")
    assert ctx.info["trained_blocks"] == ["bert.encoder.layer.1"]
    freeze = METHODS.get("freeze")
    info = get_model("tiny-bert")
    for bad, message in (({"layers": 5}, "between 0 and 2"), ({"fraction": 1.5}, r"\(0, 1\]")):
        with pytest.raises(ValueError, match=message):
            freeze.apply(info.load("classification", 3)[0], freeze.resolve_settings(bad), ctx)
    model = freeze.apply(
        info.load("classification", 3)[0], freeze.resolve_settings({"fraction": 1.0}), ctx
    )
    assert count_parameters(model, heads)["method_params"] == 2 * bert_layer()


def test_adapters_start_from_the_base_model():
    info = get_model("tiny-bert")
    torch.manual_seed(0)
    base, _ = info.load("classification", LABELS)
    base.eval()
    data = batch()
    with torch.no_grad():
        expected = base(**data).logits
    model, _, _ = prepared("tiny-bert", "houlsby")
    model.eval()
    with torch.no_grad():
        assert torch.allclose(model(**data).logits, expected, atol=1e-6)


def test_sparse_random_selection_is_seeded():
    from methods.sparse import choose_positions

    weight = torch.randn(10, 10)
    a = choose_positions(weight, 5, "random", torch.Generator().manual_seed(1))
    b = choose_positions(weight, 5, "random", torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and len(set(a.tolist())) == 5
    top = choose_positions(weight, 3, "magnitude", torch.Generator())
    assert set(top.tolist()) == set(weight.abs().reshape(-1).topk(3).indices.tolist())
    with pytest.raises(ValueError, match="selection 'nope' is not one of"):
        choose_positions(weight, 3, "nope", torch.Generator())
    with pytest.raises(ValueError, match="needs gradient scores"):
        choose_positions(weight, 3, "fisher", torch.Generator())


@pytest.mark.parametrize("selection", ["gradient", "fisher"])
def test_sparse_scored_selection_picks_the_largest_gradients(selection):
    from methods.sparse import gradient_scores

    torch.manual_seed(0)
    info = get_model("tiny-bert")
    model, _ = info.load("classification", LABELS)
    name = "bert.encoder.layer.0.attention.self.query"
    data = [batch(0), batch(1)]
    scores = gradient_scores(model, [name], data, fisher=selection == "fisher")
    expected = torch.zeros(H, H)
    model.eval()
    for b in data:
        model.zero_grad()
        model(**b).loss.backward()
        g = model.get_submodule(name).weight.grad
        expected += g**2 if selection == "fisher" else g.abs()
    model.train()
    assert torch.allclose(scores[name], expected)

    ctx = MethodContext(
        "encoder",
        "classification",
        head_module_names(model),
        0,
        calibration_batches=lambda n: data[:n],
    )
    sparse = METHODS.get("sparse")
    model = sparse.apply(
        model,
        sparse.resolve_settings({"selection": selection, "targets": ("q",), "score_batches": 2}),
        ctx,
    )
    delta = model.get_submodule(name).parametrizations.weight[0]
    k = round(0.005 * H * H)
    assert delta.index.tolist() == sorted(expected.reshape(-1).topk(k).indices.tolist())
