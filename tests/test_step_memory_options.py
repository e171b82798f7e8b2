"""The step's memory options torchtune's recipes use, as cell and estimate settings: chunked
cross-entropy, the optimizer step in backward, and paged 8-bit optimizer states outside
torch's allocator."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

from bench.cell.train_loop import LoopConfig, train_loop
from bench.core.vocab import StepShape
from bench.data.splits import encode
from bench.models.chunked_loss import use_chunked_loss
from bench.models.sources import get_model
from bench.plan.estimate import (
    BNB_MIN_PAGED_SIZE,
    device_bytes,
    estimate,
    optimizer_8bit_bytes,
)
from bench.plan.meta_model import build_on_meta
from bench.plan.validate import check_step_options
from tests.helpers import tiny_cell

SHAPE = {"precision": "bf16", "batch_size": 2, "max_length": 32, "task_kind": "generation"}


def _tiny_llama(seed: int = 0) -> nn.Module:
    from transformers import AutoConfig, LlamaForCausalLM

    from bench.plan.meta_model import config_for

    raw = config_for("tiny-llama")
    torch.manual_seed(seed)
    return LlamaForCausalLM(AutoConfig.for_model(raw.pop("model_type"), **raw))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_chunked_loss_gives_transformers_loss_and_gradients(dtype):
    plain, chunked = _tiny_llama().to(dtype), _tiny_llama().to(dtype)
    use_chunked_loss(chunked, 3)  # 3 chunks of 2 x 11 tokens: uneven on purpose
    ids = torch.randint(1, 300, (2, 11))
    labels = ids.clone()
    labels[:, :4] = -100  # a prompt the loss skips
    a = plain(input_ids=ids, labels=labels).loss
    b = chunked(input_ids=ids, labels=labels).loss
    a.backward()
    b.backward()
    torch.testing.assert_close(a, b)
    for (name, p), q in zip(plain.named_parameters(), chunked.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_chunked_loss_refuses_a_model_without_a_causal_lm():
    model, _ = get_model("tiny-bert").load("classification", 2)
    with pytest.raises(ValueError, match="loss_chunks 4: .*no causal LM"):
        use_chunked_loss(model, 4)


def test_optimizer_in_backward_takes_the_steps_of_the_usual_loop():
    model, tokenizer = get_model("tiny-bert").load("classification", 2)
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    data = encode(tokenizer, [f"w{i} x{i % 5}" for i in range(48)], [i % 2 for i in range(48)], 12)
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    # warm-up then decay: the per-parameter schedules must follow the one of the usual loop
    cfg = LoopConfig(lr=1e-2, batch_size=8, max_steps=4, warmup_ratio=0.5, grad_clip=0.0)
    usual = train_loop(model, data, torch.device("cpu"), 0, cfg)
    after = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(start[n])
    stepped = train_loop(
        model, data, torch.device("cpu"), 0, dataclasses.replace(cfg, optimizer_in_backward=True)
    )
    assert stepped.losses == pytest.approx(usual.losses, rel=1e-5)
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.detach(), after[name], atol=2e-6, rtol=1e-5)
        assert param.grad is None  # freed as each parameter stepped
    assert not any(p._post_accumulate_grad_hooks for p in model.parameters())  # unhooked


@pytest.mark.parametrize(
    ("budget", "named"),
    [
        ({"optimizer_in_backward": True}, "grad_clip 1: .*set --grad-clip 0"),
        (
            {"optimizer_in_backward": True, "grad_clip": 0.0, "grad_accumulation": 2},
            "grad_accumulation 2",
        ),
        (
            {"optimizer_in_backward": True, "grad_clip": 0.0, "precision": "amp-fp16"},
            "precision amp-fp16",
        ),
        ({"loss_chunks": 4}, "loss_chunks 4: .*synthetic_rule is a classification task"),
        ({"loss_chunks": 0}, "loss_chunks 0 is not allowed: it must be >= 1"),
        ({"grad_clip": -1.0}, "grad_clip -1 is not allowed"),
    ],
)
def test_step_options_refused_where_they_cannot_be_honoured(budget, named):
    spec = dataclasses.replace(tiny_cell(), **budget)
    with pytest.raises(ValueError, match=named):
        check_step_options(spec)


def test_estimate_of_optimizer_in_backward_never_holds_every_gradient():
    small = {**SHAPE, "batch_size": 1, "max_length": 2}  # parameters outweigh activations
    usual = estimate("tiny-llama", "full", shape=StepShape(**small))
    in_bwd = estimate("tiny-llama", "full", shape=StepShape(**small, optimizer_in_backward=True))
    assert set(in_bwd.phases) == {"forward", "backward"}  # no clipping, no step after
    all_grads = 2 * usual.trainable_params  # bf16
    assert usual.phases["optimizer step"]["gradients"] == all_grads
    # each gradient freed as its parameter steps: at most the largest one is ever live
    largest = 2 * 300 * 32  # the embedding's (bf16)
    assert in_bwd.phases["backward"]["gradients"] <= largest
    assert usual.basis["peak"] == "during the optimizer step"
    saved = usual.peak_allocated_bytes - in_bwd.peak_allocated_bytes
    assert saved >= all_grads - largest  # (and the foreach step's temporaries over every tensor)
    # the same optimizer work, done inside the backward pass, one tensor's kernels at a time
    work = [sum(v[i] for v in in_bwd.costs["optimizer step"].values()) for i in range(3)]
    once = [sum(v[i] for v in usual.costs["optimizer step"].values()) for i in range(3)]
    assert work[1] == pytest.approx(once[1], rel=1e-3)
    assert work[2] > once[2]


def test_estimate_of_chunked_loss_keeps_no_fp32_logits():
    shape = {**SHAPE, "precision": "bf16"}
    usual = estimate("tiny-llama", "lora", shape=StepShape(**shape))
    chunked = estimate("tiny-llama", "lora", shape=StepShape(**shape, loss_chunks=8))
    fp32_logits = 4 * 2 * 32 * 300  # batch x tokens x vocabulary
    saved = usual.peak_allocated_bytes - chunked.peak_allocated_bytes
    # HF's loss holds the fp32 logits and their log-softmax; the chunks hold an eighth of one
    assert saved >= fp32_logits
    assert chunked.loss_chunks == 8


def test_paged_states_are_outside_the_allocator_and_on_the_device():
    shape = StepShape(**{**SHAPE, "optimizer": "paged-adamw-8bit"})
    from bench.core.registry import MODELS
    from bench.models.sources import register_config_model
    from bench.plan.meta_model import config_for

    if "tiny-llama-wide-vocab" not in MODELS:  # an embedding above the paging threshold
        register_config_model(
            "tiny-llama-wide-vocab", {**config_for("tiny-llama"), "vocab_size": 4000}, "test"
        )
    paged = estimate("tiny-llama-wide-vocab", "full", shape=shape)
    plain = estimate(
        "tiny-llama-wide-vocab", "full", shape=dataclasses.replace(shape, optimizer="adamw-8bit")
    )
    built = build_on_meta("tiny-llama-wide-vocab", "full", None, "generation", 2, torch.bfloat16)
    params = [p for p in built.model.parameters() if p.requires_grad]
    big = [p for p in params if p.numel() >= BNB_MIN_PAGED_SIZE]
    assert big and paged.managed_bytes == sum(2 * p.numel() for p in big)
    assert plain.components["optimizer_states"] == optimizer_8bit_bytes(params)
    assert (
        paged.components["optimizer_states"] == optimizer_8bit_bytes(params) - paged.managed_bytes
    )
    assert paged.peak_allocated_bytes == plain.peak_allocated_bytes - paged.managed_bytes
    assert paged.peak_device_bytes == device_bytes(paged.peak_allocated_bytes) + paged.managed_bytes
