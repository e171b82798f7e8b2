"""Precision recipes, optimizers and gradient checkpointing in real cells on the CPU."""

from __future__ import annotations

import pytest
import torch

from bench.cell.run import failure_record, run_cell
from bench.cell.train_loop import make_optimizer
from bench.core.vocab import OPTIMIZERS
from bench.models.precision import RECIPES, get_recipe
from tests.helpers import tiny_cell


@pytest.mark.parametrize(
    ("method", "trainable", "frozen"),
    [
        ("full", {"bfloat16", "float32"}, set()),  # the new head in fp32, the rest bf16
        ("lora", {"float32"}, {"bfloat16"}),
        ("houlsby", {"float32"}, {"bfloat16"}),
        ("prompt_tuning", {"float32"}, {"bfloat16"}),
    ],
)
def test_bf16_recipe_keeps_base_weights_bf16_and_added_parameters_fp32(method, trainable, frozen):
    record = run_cell(tiny_cell(method, precision="bf16"))
    dtypes = record["precision"]["dtypes"]
    assert set(dtypes["trainable"]) == trainable
    assert set(dtypes["frozen"]) == frozen
    if method == "full":  # exactly the classifier's weight and bias stay fp32
        assert dtypes["trainable"]["float32"] == 32 * 3 + 3
    losses = record["train_loss"]
    assert all(torch.isfinite(torch.tensor(v)) for v in losses.values())


def test_amp_recipe_keeps_every_weight_fp32():
    record = run_cell(tiny_cell("lora", precision="amp-bf16"))
    dtypes = record["precision"]["dtypes"]
    assert set(dtypes["trainable"]) == {"float32"} and set(dtypes["frozen"]) == {"float32"}
    assert record["precision"]["recipe"] == "amp-bf16" and record["precision"]["tf32"] is False


def test_unknown_recipe_names_the_valid_ones():
    with pytest.raises(ValueError, match="fp32, amp-bf16, bf16, amp-fp16"):
        get_recipe("fp8")
    assert set(RECIPES) == {"fp32", "amp-bf16", "bf16", "amp-fp16"}


def test_gradient_checkpointing_recomputes_the_same_losses():
    plain = run_cell(tiny_cell("lora", max_steps=3))
    ckpt = run_cell(tiny_cell("lora", max_steps=3, grad_checkpointing=True))
    assert ckpt["train_loss"]["last"] == pytest.approx(plain["train_loss"]["last"], abs=1e-5)
    assert ckpt["metrics"]["accuracy"] == plain["metrics"]["accuracy"]


def test_prefix_tuning_under_checkpointing_is_unsupported():
    with pytest.raises(Exception) as info:
        run_cell(tiny_cell("prefix_tuning", model="tiny-llama", grad_checkpointing=True))
    assert failure_record(info.value)["status"] == "unsupported"
    assert "past key values" in str(info.value)


@pytest.mark.parametrize("name", ["adamw", "adamw-8bit", "paged-adamw-8bit"])
def test_each_cpu_optimizer_trains_a_cell(name):
    record = run_cell(tiny_cell("lora", optimizer=name, max_steps=3))
    assert record["status"] == "ok"


def test_optimizers_are_the_libraries_own():
    import bitsandbytes as bnb

    params = [{"params": [torch.nn.Parameter(torch.zeros(4, 4))], "weight_decay": 0.0}]
    assert type(make_optimizer("adamw", params, 1e-3)) is torch.optim.AdamW
    assert isinstance(make_optimizer("adamw-8bit", params, 1e-3), bnb.optim.AdamW8bit)
    assert isinstance(make_optimizer("paged-adamw-8bit", params, 1e-3), bnb.optim.PagedAdamW8bit)
    with pytest.raises(ValueError, match=", ".join(OPTIMIZERS)):
        make_optimizer("sgd", params, 1e-3)
