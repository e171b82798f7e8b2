"""The memory estimate: hand counts per recipe, optimizer and method kind; bitsandbytes'
layouts against real layers; the activation term against a real step; depth extrapolation."""

from __future__ import annotations

import pytest
import torch

from bench.core.registry import METHODS, MODELS
from bench.core.vocab import StepShape
from bench.models.sources import build_from_config, register_config_model
from bench.plan.estimate import (
    _estimate_at,
    _quantized_linears,
    estimate,
    flash_attention,
    optimizer_8bit_bytes,
    quantized_weight_bytes,
)
from bench.plan.live_bytes import LiveBytes
from bench.plan.meta_model import base_on_meta, build_on_meta, config_for

SHAPE = {"batch_size": 1, "max_length": 8, "task_kind": "classification", "num_labels": 2}


def _counts(model: str, method: str) -> dict[str, int]:
    """Hand-countable figures of the model with the method applied (meta, fp32)."""
    built = build_on_meta(model, method, None, "classification", 2)
    params = list(built.model.named_parameters())
    trainable = [p for _, p in params if p.requires_grad]
    head = sum(p.numel() for n, p in params if n.split(".")[0] in built.heads)
    return {
        "n": sum(p.numel() for _, p in params),
        "trainable": sum(p.numel() for p in trainable),
        "tensors": len(trainable),
        "head": head,
        "buffers": sum(b.numel() * b.element_size() for b in built.model.buffers()),
        "buffers_bf16": sum(  # floating buffers (rotary frequencies) are cast with the weights
            b.numel() * (2 if b.is_floating_point() else b.element_size())
            for b in built.model.buffers()
        ),
    }


@pytest.mark.parametrize("model", ["tiny-bert", "tiny-llama"])
def test_full_fine_tuning_fp32_and_bf16_by_hand(model):
    c = _counts(model, "full")
    fp32 = estimate(model, "full", shape=StepShape(precision="fp32", **SHAPE)).components
    assert fp32["weights"] == 4 * c["n"] + c["buffers"]
    assert fp32["gradients"] == 4 * c["n"]
    assert fp32["optimizer_states"] == 8 * c["n"] + 4 * c["tensors"]  # two moments, a step each
    bf16 = estimate(model, "full", shape=StepShape(precision="bf16", **SHAPE)).components
    grads = 2 * (c["n"] - c["head"]) + 4 * c["head"]  # the new head stays fp32
    assert bf16["weights"] == grads + c["buffers_bf16"]
    assert bf16["gradients"] == grads
    assert bf16["optimizer_states"] == 2 * grads + 4 * c["tensors"]
    for recipe in ("amp-bf16", "amp-fp16"):
        amp = estimate(model, "full", shape=StepShape(precision=recipe, **SHAPE)).components
        assert amp["weights"] == fp32["weights"]  # autocast keeps fp32 master weights
        assert amp["optimizer_states"] == fp32["optimizer_states"]


@pytest.mark.parametrize("model", ["tiny-bert", "tiny-llama"])
def test_lora_and_prompt_tuning_keep_their_parameters_fp32_on_a_bf16_base(model):
    for method in ("lora", "prompt_tuning"):
        c = _counts(model, method)
        e = estimate(model, method, shape=StepShape(precision="bf16", **SHAPE))
        frozen = c["n"] - c["trainable"]
        assert e.components["weights"] == 2 * frozen + 4 * c["trainable"] + c["buffers_bf16"]
        assert e.components["optimizer_states"] == 8 * c["trainable"] + 4 * c["tensors"]
        assert e.trainable_params == c["trainable"] and e.total_params == c["n"]


def test_eight_bit_optimizer_states_by_hand_and_against_bitsandbytes():
    import bitsandbytes as bnb

    c = _counts("tiny-bert", "lora")
    e = estimate(
        "tiny-bert", "lora", shape=StepShape(precision="fp32", optimizer="adamw-8bit", **SHAPE)
    )
    assert e.components["optimizer_states"] == 8 * c["trainable"]  # all below 4,096 values
    params = [torch.nn.Parameter(torch.randn(64, 64)), torch.nn.Parameter(torch.randn(300, 70))]
    params.append(torch.nn.Parameter(torch.randn(10, 10)))  # small: fp32 states
    optimizer = bnb.optim.AdamW8bit(params, lr=1e-3)
    for p in params:
        p.grad = torch.randn_like(p)
    optimizer.step()
    real = sum(
        v.numel() * v.element_size()
        for state in optimizer.state.values()
        for v in state.values()
        if torch.is_tensor(v)
    )
    assert optimizer_8bit_bytes(params) == real


@pytest.mark.parametrize("double_quant", [True, False])
def test_four_bit_weight_bytes_match_bitsandbytes(double_quant):
    import bitsandbytes as bnb

    layer = bnb.nn.Linear4bit(
        512, 256, bias=False, compress_statistics=double_quant, quant_type="nf4"
    ).to("cpu")
    state = layer.weight.quant_state
    real = layer.weight.data.numel() * layer.weight.data.element_size()
    for t in (state.absmax, state.code, getattr(state, "offset", None)):
        real += t.numel() * t.element_size() if torch.is_tensor(t) else 0
    if state.state2 is not None:
        real += sum(t.numel() * t.element_size() for t in (state.state2.absmax, state.state2.code))
    assert quantized_weight_bytes(512 * 256, 256, 4, double_quant) == real


def test_eight_bit_weight_bytes_match_bitsandbytes():
    import bitsandbytes as bnb

    layer = bnb.nn.Linear8bitLt(512, 256, bias=False, has_fp16_weights=False).to("cpu")
    real = layer.weight.data.numel() + layer.weight.SCB.numel() * layer.weight.SCB.element_size()
    assert quantized_weight_bytes(512 * 256, 256, 8, False) == real


def test_qlora_replaces_each_quantised_weight_by_its_packed_bytes():
    lora = estimate("tiny-llama", "lora", shape=StepShape(precision="bf16", **SHAPE))
    qlora = estimate("tiny-llama", "qlora", shape=StepShape(precision="bf16", **SHAPE))
    built = build_on_meta("tiny-llama", "lora", None, "classification", 2, torch.bfloat16)
    layers = _quantized_linears(built.model, built.heads)
    assert layers, "the tiny model has linear layers to quantise"
    packed = sum(
        quantized_weight_bytes(m.weight.numel(), m.weight.shape[0], 4, True) for m in layers
    )
    full = sum(2 * m.weight.numel() for m in layers)
    assert qlora.components["weights"] == lora.components["weights"] - full + packed
    assert "analytic" in qlora.basis["weights"]


def _optimizer_with_states(net: torch.nn.Module) -> tuple[torch.optim.Optimizer, list]:
    """AdamW over the trainable parameters with its states made (one step on zero gradients),
    as the estimate holds them before the traced step; the optimizer and its state tensors."""
    trainable = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-4, foreach=True)
    for p in trainable:
        p.grad = torch.zeros_like(p)
    opt.step()
    opt.zero_grad(set_to_none=True)
    return opt, [v for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]


def _real_step_peak(model: str, method: str, batch: int, length: int) -> tuple[int, int]:
    """The same step as the estimate's, on real CPU tensors: (peak bytes, weight+state bytes)."""
    from transformers import AutoConfig

    from bench.core.method_api import MethodContext
    from bench.models.sources import head_module_names

    torch.manual_seed(0)
    raw = config_for(model)
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    net = build_from_config(config, "classification", 2)
    heads = head_module_names(net)
    ctx = MethodContext(
        model_kind="encoder",
        task_kind="classification",
        head_names=heads,
        seed=0,
        total_steps=10,
        device="cpu",
    )
    info = METHODS.get(method)
    net = info.apply(net, info.resolve_settings({}), ctx)
    opt, states = _optimizer_with_states(net)
    ids = torch.randint(0, config.vocab_size, (batch, length))
    labels = torch.zeros(batch, dtype=torch.long)
    tracker = LiveBytes()
    tracker.track(list(net.parameters()) + list(net.buffers()) + states)
    base = tracker.current
    net.train()
    with tracker, flash_attention():
        net(input_ids=ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return tracker.peak, base


@pytest.mark.parametrize("method", ["full", "lora", "houlsby"])
def test_activations_agree_with_a_real_step_within_ten_percent(method):
    # The CPU's flash kernel takes no attention dropout (CUDA's does): none in this model.
    if "tiny-bert-no-attention-dropout" not in MODELS:
        register_config_model(
            "tiny-bert-no-attention-dropout",
            {**config_for("tiny-bert"), "attention_probs_dropout_prob": 0.0},
            "test",
        )
    peak, held = _real_step_peak("tiny-bert-no-attention-dropout", method, batch=8, length=64)
    e = estimate(
        "tiny-bert-no-attention-dropout",
        method,
        shape=StepShape(
            precision="fp32", batch_size=8, max_length=64, task_kind="classification", num_labels=2
        ),
    )
    real_transient = peak - held
    est_transient = (
        e.peak_allocated_bytes - e.components["weights"] - e.components["optimizer_states"]
    )
    assert est_transient == pytest.approx(real_transient, rel=0.10)
    assert e.peak_allocated_bytes == pytest.approx(peak, rel=0.10)


def test_deep_stacks_extrapolate_exactly_from_two_and_three_blocks():
    if "tiny-llama-deep" not in MODELS:
        register_config_model(
            "tiny-llama-deep", {**config_for("tiny-llama"), "num_hidden_layers": 12}, "test"
        )
    for method, ckpt in (("full", False), ("full", True), ("lora", False), ("lora", True)):
        kwargs = dict(precision="bf16", batch_size=2, max_length=32, grad_checkpointing=ckpt)
        fast = estimate("tiny-llama-deep", method, shape=StepShape(**kwargs))
        slow = estimate("tiny-llama-deep", method, shape=StepShape(**kwargs), extrapolate=False)
        assert "extended linearly" in fast.basis["depth"]
        assert fast.peak_allocated_bytes == pytest.approx(slow.peak_allocated_bytes, rel=0.01)
        assert fast.basis["peak"] == slow.basis["peak"]
        assert fast.total_params == slow.total_params


def test_checkpointed_full_fine_tuning_keeps_every_gradient_at_the_optimizer_step():
    """Stepped at 2 and 3 blocks, the peak is the loss's (the logits do not grow with depth);
    at 32 it is the optimizer step's, where weights, gradients and Adam states coexist: each
    phase is extended on its own (the figure read 50.84 GiB with no gradients before)."""
    shape = StepShape(precision="bf16", batch_size=4, max_length=4096, grad_checkpointing=True)
    est = estimate("Mistral-7B", "full", shape=shape)
    params = 7_241_732_096
    assert est.components["gradients"] == pytest.approx(2 * params, rel=0.001)
    assert est.basis["peak"] == "during the optimizer step"
    assert est.peak_allocated_bytes >= 8 * params  # bf16 weights, gradients and two states
    assert set(est.phases) == {"forward", "backward", "gradient clipping", "optimizer step"}


def test_seven_b_lora_needs_checkpointing_on_a_24_gb_card():
    """The figures practitioners quote: LoRA on a 7B at 4 x 512 in bf16 does not fit 24 GB
    without gradient checkpointing, and does with it; QLoRA weighs about 3.6 GiB."""
    plain = estimate(
        "Llama-2-7B", "lora", shape=StepShape(precision="bf16", batch_size=4, max_length=512)
    )
    ckpt = estimate(
        "Llama-2-7B",
        "lora",
        shape=StepShape(precision="bf16", batch_size=4, max_length=512, grad_checkpointing=True),
    )
    qlora = estimate(
        "Llama-2-7B", "qlora", shape=StepShape(precision="bf16", batch_size=4, max_length=512)
    )
    assert plain.peak_device_bytes > 24 * 2**30 > ckpt.peak_device_bytes
    assert plain.components["weights"] == pytest.approx(6.74e9 * 2, rel=0.01)
    assert 3.3 * 2**30 < qlora.components["weights"] < 4.0 * 2**30
    assert plain.trainable_params == 4_194_304  # peft's figure for r=8 on q, v


@pytest.mark.parametrize("model", ["bert-base-uncased", "gpt2", "Qwen2.5-0.5B"])
def test_every_method_has_an_estimate_on_shipped_configs(model):
    from bench.core.errors import Unsupported
    from bench.plan.suites import all_methods

    # Two blocks of the real widths: every method applied and stepped once (the extrapolation
    # to full depth, which would step each twice, is tested above).
    raw = config_for(model)
    depth = {next(f for f in ("num_hidden_layers", "n_layer") if f in raw): 2}
    made = 0
    for method in (m.name for m in all_methods()):
        try:
            e = _estimate_at(
                model,
                method,
                None,
                StepShape(precision="bf16", batch_size=1, max_length=32),
                config_changes=depth,
            )
        except Unsupported:  # BitFit on a model without biases, OFT on GPT-2's Conv1D, ...
            continue
        assert e.peak_allocated_bytes > e.components["weights"] > 0
        made += 1
    assert made >= 22


def _real_preference_step(spec) -> tuple[int, int]:
    """A preference cell's own step (its loaded model, objective and reference) on full-length
    sequences, live bytes tracked: (peak bytes, weight+state bytes held before it)."""
    from bench.cell.load import load_and_apply
    from bench.cell.setup import resolve
    from bench.data.splits import PAIR_LABELS

    setup = resolve(spec)
    torch.manual_seed(0)
    loaded = load_and_apply(setup)
    net, objective = loaded.model, loaded.preference
    opt, states = _optimizer_with_states(net)
    ids = torch.randint(3, 100, (2 * spec.batch_size, spec.max_length))
    batch = {"input_ids": ids, PAIR_LABELS: ids}
    held = list(net.parameters()) + list(net.buffers())
    if objective.reference is not None and objective.reference.strategy == "copy":
        reference = objective.reference.model
        held += list(reference.parameters()) + list(reference.buffers())
    held += states
    tracker = LiveBytes()
    tracker.track(held)
    base = tracker.current
    net.train()
    with tracker, flash_attention():
        outputs = net(input_ids=ids)
        objective.objective(outputs, batch, list(range(spec.batch_size))).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return tracker.peak, base


@pytest.mark.parametrize(
    ("method", "reference", "step"),
    [
        ("lora", "auto", "dpo-adapter-off"),
        ("lora", "copy", "dpo-copy"),
        ("full", "auto", "dpo-copy"),
    ],
)
def test_a_dpo_step_counts_both_sequences_and_its_reference_against_a_real_one(
    method, reference, step
):
    """The planner steps a DPO cell as the cell does (two sequences per pair, the reference
    run without gradients while the policy's activations are held, a copy's weights held):
    its peak within ten percent of the real step's, and a copy adds exactly the base's bytes."""
    import dataclasses

    from bench.plan.planner import _step_of
    from tests.helpers import tiny_cell

    spec = dataclasses.replace(
        tiny_cell(method, model="tiny-llama", batch_size=4, max_length=32),
        task="synthetic_prefs",
        dpo_reference=reference,
    )
    model, _, settings, shape = _step_of(spec)
    assert (shape.preference, shape.task_kind) == (step, "generation")
    e = estimate(model, method, dict(settings), shape=dataclasses.replace(shape, precision="fp32"))
    peak, held = _real_preference_step(spec)
    assert e.components["weights"] + e.components["optimizer_states"] == pytest.approx(
        held, rel=0.01
    )
    assert e.peak_allocated_bytes == pytest.approx(peak, rel=0.10)
    if step == "dpo-copy" and method == "lora":
        alone = estimate(
            model,
            method,
            dict(settings),
            shape=dataclasses.replace(shape, preference="dpo-adapter-off"),
        )
        copy = base_on_meta(model, "generation", 2)  # an LM head, weights and rotary buffers
        base = sum(t.numel() * t.element_size() for t in [*copy.parameters(), *copy.buffers()])
        assert e.components["weights"] - alone.components["weights"] == base


def test_a_reward_models_step_is_a_one_output_head_on_both_sequences():
    import dataclasses

    from bench.plan.planner import _step_of
    from tests.helpers import tiny_cell

    spec = dataclasses.replace(
        tiny_cell("lora", model="tiny-llama"), task="synthetic_prefs", preference_objective="reward"
    )
    _, _, _, shape = _step_of(spec)
    assert (shape.preference, shape.task_kind, shape.num_labels) == ("reward", "classification", 1)
    one = estimate("tiny-llama", "lora", shape=dataclasses.replace(shape, preference=None))
    two = estimate("tiny-llama", "lora", shape=shape)
    assert two.activations_saved_bytes > 1.8 * one.activations_saved_bytes  # twice the sequences
