"""Where a bottleneck adapter sits: exact parameter counts per placement by hand, Houlsby's and
Pfeiffer's adapters as two of the placements, parallel adapters that start as the base and
train, and a head-only reference (freeze 0 blocks)."""

from __future__ import annotations

import pytest
import torch

from bench.core.method_api import MethodContext
from bench.core.registry import METHODS
from bench.plan.meta_model import config_for, count_on_meta
from bench.plan.validate import check_setting

CONFIG = config_for("tiny-bert")  # the shipped tiny config the meta count reads
HIDDEN, LAYERS, REDUCTION = CONFIG["hidden_size"], CONFIG["num_hidden_layers"], 16


def _per_adapter(width: int = HIDDEN) -> int:
    bottleneck = width // REDUCTION
    return width * bottleneck + bottleneck + bottleneck * width + width  # down and up, biases


@pytest.mark.parametrize(
    ("placement", "per_layer"),
    [
        ("attention", 1),
        ("ffn", 1),
        ("both", 2),
        ("parallel_attention", 1),
        ("parallel_ffn", 1),
    ],
)
def test_each_placement_adds_exactly_its_adapters(placement, per_layer):
    counts = count_on_meta("tiny-bert", "bottleneck", {"placement": placement}, "classification")
    head = count_on_meta("tiny-bert", "freeze", {"layers": 0}, "classification")
    adapters = LAYERS * per_layer * _per_adapter()
    assert counts["trainable_params"] - head["trainable_params"] == adapters
    assert counts["total_params"] - head["total_params"] == adapters


def _model(method: str, settings: dict, seed: int = 0):
    from bench.cell.setup import resolve
    from bench.models.sources import head_module_names
    from tests.helpers import tiny_cell

    setup = resolve(tiny_cell(method))
    torch.manual_seed(seed)
    model, _ = setup.model_info.load("classification", 3)
    info = METHODS.get(method)
    ctx = MethodContext(
        model_kind="encoder",
        task_kind="classification",
        head_names=head_module_names(model),
        seed=seed,
        total_steps=10,
        device="cpu",
    )
    return info.apply(model, info.resolve_settings(settings), ctx).eval()


@pytest.mark.parametrize(("named", "placement"), [("houlsby", "both"), ("pfeiffer", "ffn")])
def test_houlsby_and_pfeiffer_are_two_placements(named, placement):
    ids = torch.randint(5, 250, (2, 12))
    a, b = _model(named, {}), _model("bottleneck", {"placement": placement})
    assert [n for n, p in a.named_parameters() if p.requires_grad] == [
        n for n, p in b.named_parameters() if p.requires_grad
    ]
    assert torch.equal(a(input_ids=ids).logits, b(input_ids=ids).logits)


@pytest.mark.parametrize("placement", ["parallel_attention", "parallel_ffn"])
def test_a_parallel_adapter_starts_as_the_base_and_changes_it_once_trained(placement):
    ids = torch.randint(5, 250, (2, 12))
    base = _model("freeze", {"layers": 0})
    model = _model("bottleneck", {"placement": placement, "scale": 4.0, "activation": "gelu"})
    assert torch.allclose(base(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-6)
    trained = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    for name, param in trained:
        if ".adapter.up." in name:
            torch.nn.init.normal_(param, std=0.1)
    assert not torch.allclose(base(input_ids=ids).logits, model(input_ids=ids).logits)
    model.train()
    model(input_ids=ids, labels=torch.tensor([0, 1])).loss.backward()
    downs = [p for n, p in trained if ".adapter.down." in n]
    assert downs and all(p.grad is not None and p.grad.abs().sum() > 0 for p in downs)


def test_placement_and_scale_are_checked_by_name():
    check_setting("bottleneck", "placement", "parallel_ffn")
    with pytest.raises(ValueError, match="placement"):
        check_setting("bottleneck", "placement", "sideways")
    with pytest.raises(ValueError, match="scale"):
        check_setting("bottleneck", "scale", 0)
