import pytest
import torch

from bench.errors import Unsupported
from bench.meters.params import count_parameters
from bench.method_api import MethodContext
from bench.models import get_model, head_module_names
from bench.registry import METHODS

H, LAYERS, INTER, VOCAB, POS, LABELS = 32, 2, 64, 300, 64, 3


def _prepared(model_name: str, method: str, **settings):
    torch.manual_seed(0)
    info = get_model(model_name)
    model, _ = info.load("classification", LABELS)
    heads = head_module_names(model)
    ctx = MethodContext(model_kind=info.kind, task_kind="classification", head_names=heads, seed=0)
    method_info = METHODS.get(method)
    model = method_info.apply(model, method_info.resolve_settings(settings), ctx)
    return model, heads


def _bert_total() -> int:
    emb = VOCAB * H + POS * H + 2 * H + 2 * H
    layer = 4 * (H * H + H) + 2 * H + (H * INTER + INTER) + (INTER * H + H) + 2 * H
    pooler = H * H + H
    return emb + LAYERS * layer + pooler


def test_full_trains_everything():
    model, heads = _prepared("tiny-bert", "full")
    counts = count_parameters(model, heads)
    assert counts["total_params"] == _bert_total() + H * LABELS + LABELS
    assert counts["trainable_params"] == counts["total_params"]
    assert counts["head_params"] == H * LABELS + LABELS


def test_lora_counts_match_shapes_on_bert_and_llama():
    bert, heads = _prepared("tiny-bert", "lora", r=8)
    counts = count_parameters(bert, heads)
    assert counts["method_params"] == LAYERS * 2 * 8 * (H + H)
    assert counts["head_params"] == H * LABELS + LABELS
    llama, heads = _prepared("tiny-llama", "lora", r=4)
    kv = 2 * (H // 4)  # 2 key/value heads of head_dim 8
    counts = count_parameters(llama, heads)
    assert counts["method_params"] == LAYERS * (4 * (H + H) + 4 * (H + kv))
    assert counts["head_params"] == H * LABELS  # Llama's score head has no bias


def test_bitfit_counts_biases_only():
    model, heads = _prepared("tiny-bert", "bitfit")
    counts = count_parameters(model, heads)
    per_layer = 4 * H + H + INTER + H + H  # q k v o, attention LayerNorm, intermediate, output, LN
    assert counts["method_params"] == LAYERS * per_layer + H + H  # + embedding LN + pooler
    assert counts["head_params"] == H * LABELS + LABELS


def test_bitfit_is_unsupported_on_llama():
    with pytest.raises(Unsupported, match="no(ne)? .*bias|has none"):
        _prepared("tiny-llama", "bitfit")


COMBINATIONS = [
    (m, k)
    for m in ("tiny-bert", "tiny-llama")
    for k in ("full", "lora", "bitfit")
    if (m, k) != ("tiny-llama", "bitfit")
]  # unsupported, tested above


@pytest.mark.parametrize(("model_name", "method"), COMBINATIONS)
def test_one_step_changes_only_trainable_parameters(model_name, method):
    model, heads = _prepared(model_name, method)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids = torch.randint(4, 200, (4, 10))
    out = model(
        input_ids=ids, attention_mask=torch.ones_like(ids), labels=torch.tensor([0, 1, 2, 0])
    )
    out.loss.backward()
    optimizer.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed <= trainable
    frozen = set(before) - trainable
    for name in frozen:
        assert torch.equal(dict(model.named_parameters())[name], before[name]), name
    assert any(any(h in n.split(".") for h in heads) for n in changed)  # the head learned
    if method != "full":
        assert frozen, "a parameter-efficient method must freeze something"
