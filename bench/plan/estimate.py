"""Predicted peak memory of a cell's training step, before anything runs, on any machine.

One real training step (forward, backward, optimizer step) of the real architecture runs on
meta tensors (fake CPU tensors for autocast recipes; shapes and dtypes, no memory), while
bench.plan.live_bytes sums the bytes of live storages. SDPA goes through the flash kernel
(`flash_attention`), which like CUDA's flash / memory-efficient kernels saves no attention
matrix.
Analytic, and labelled so: 4-bit / 8-bit bitsandbytes weights (their packed bytes and one
dequantised weight in flight), 8-bit optimizer states, the CUDA context and the allocator's
cache (leads to calibrate on a GPU).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F
from torch.utils._python_dispatch import TorchDispatchMode

from bench.cell.optimizer_in_backward import OptimizerInBackward
from bench.core.errors import Unsupported
from bench.core.registry import METHODS
from bench.core.vocab import OPTIMIZERS, StepShape
from bench.hardware.gpus import CUDA_CONTEXT_BYTES
from bench.models.chunked_loss import use_chunked_loss
from bench.models.precision import get_recipe, keep_added_fp32
from bench.models.sources import enable_gradient_checkpointing
from bench.plan.live_bytes import LiveBytes
from bench.plan.op_costs import OpCosts
from bench.plan.op_costs import add as add_costs
from bench.plan.op_costs import extend as extend_costs

# Leads, not measurements: to be calibrated against NVML on a GPU (the measured-GPU issue).
ALLOCATOR_CACHE_FRACTION = 0.05  # reserved beyond allocated at the peak (fragmentation)
BNB_MIN_8BIT_SIZE = 4096  # bitsandbytes keeps smaller tensors' optimizer states in 32 bits
BNB_BLOCK = 256  # 8-bit optimizer: one fp32 absmax per block of 256 values
BNB_MIN_PAGED_SIZE = 100_000  # paged optimizers page the states of tensors this large


@dataclass
class Estimate:
    """The predicted peak of one training step and what it is made of, in bytes."""

    model: str
    method: str
    settings: dict[str, Any]
    precision: str
    optimizer: str
    grad_checkpointing: bool
    batch_size: int
    max_length: int
    task_kind: str
    peak_allocated_bytes: int  # what torch.cuda.max_memory_allocated would show
    peak_device_bytes: int  # what NVML would show: context and allocator cache included
    components: dict[str, int]
    activations_saved_bytes: int  # live at the end of the forward pass, beyond the weights
    trainable_params: int
    total_params: int
    basis: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    # Each phase's own peak (forward, backward, optimizer step), split as `components` is.
    phases: dict[str, dict[str, int]] = field(default_factory=dict)
    # FLOPs, bytes and ops of the step by phase, op class and intensity (bench.plan.op_costs)
    costs: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    optimizer_in_backward: bool = False
    loss_chunks: int | None = None
    # Paged optimizer states (bitsandbytes' cudaMallocManaged): outside torch's allocator, so
    # in no torch counter; on the card (NVML) while it has room, evicted to the host after.
    managed_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ScalarAnswers(TorchDispatchMode):
    """Answers a Python scalar read from a tensor (`.item()`, `if tensor:`), which neither meta
    nor fake tensors can: 0 for numbers, `truth` for booleans. peft's LoHa / LoKr test
    `torch.rand(1) > module_dropout` (True: the adapter path runs, as it does at dropout 0),
    VB-LoRA tests its logits for infinities (False), BOFT draws a random index (0)."""

    SCALAR_OPS = ("aten._local_scalar_dense.default", "aten.is_nonzero.default")

    def __init__(self, truth: bool = True) -> None:
        super().__init__()
        self.truth = truth

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        from torch._subclasses.fake_tensor import DataDependentOutputException

        try:
            return func(*args, **(kwargs or {}))
        except (DataDependentOutputException, NotImplementedError, RuntimeError):
            if str(func) not in self.SCALAR_OPS:
                raise
            dtype = args[0].dtype
            if dtype == torch.bool:
                return self.truth
            return 0.0 if dtype.is_floating_point else 0


@contextlib.contextmanager
def flash_attention() -> Iterator[None]:
    """SDPA through the flash kernel, which keeps no attention matrix, as CUDA's flash and
    memory-efficient kernels do not: on the meta device SDPA would decompose into the math
    path (softmax kept for backward), which overstates LoRA's activations by a third."""
    original = F.scaled_dot_product_attention
    flash = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu

    def sdpa(
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attn_mask: torch.Tensor | None = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        scale: float | None = None,
        enable_gqa: bool = False,  # the flash op takes fewer key / value heads as they are
    ) -> torch.Tensor:
        return flash(query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale)[0]

    F.scaled_dot_product_attention = sdpa
    try:
        yield
    finally:
        F.scaled_dot_product_attention = original


def _fake_copy(model: nn.Module) -> None:
    """Replace every parameter and buffer (built on the meta device) by a fake CPU tensor;
    tied parameters (GPT-2's embedding and LM head) stay one tensor."""
    copies: dict[int, Any] = {}
    for module in model.modules():
        for name, p in list(module._parameters.items()):
            if p is not None:
                if id(p) not in copies:
                    fake = torch.empty(p.shape, dtype=p.dtype)
                    copies[id(p)] = nn.Parameter(fake, requires_grad=p.requires_grad)
                module._parameters[name] = copies[id(p)]
        for name, b in list(module._buffers.items()):
            if b is not None:
                if id(b) not in copies:
                    copies[id(b)] = torch.zeros(b.shape, dtype=b.dtype)
                module._buffers[name] = copies[id(b)]


def _quantized_linears(model: nn.Module, heads: list[str]) -> list[nn.Module]:
    """The linear layers bitsandbytes would quantise (bench.models.quantize's choice)."""
    from bench.models.quantize import KEEP_FULL_PRECISION
    from bench.models.sources import is_linear

    keep = set(heads) | set(KEEP_FULL_PRECISION)
    return [
        m
        for n, m in model.named_modules()
        if is_linear(m) and not keep & set(n.split(".")) and "lora_" not in n
    ]


def quantized_weight_bytes(numel: int, out_features: int, bits: int, double_quant: bool) -> int:
    """Bytes bitsandbytes keeps for one quantised weight: its data and quantisation state
    (checked against real bitsandbytes layers in tests/test_estimate.py)."""
    if bits == 8:
        return numel + 4 * out_features  # int8 values, one fp32 scale per row
    blocks = -(-numel // 64)
    code = 4 * 16  # the 16-entry NF4 / FP4 code book
    if double_quant:  # absmax in 8 bits with an fp32 offset, one fp32 per 256 of them, a code
        return numel // 2 + code + blocks + 4 + 4 * (-(-blocks // 256)) + 4 * 256
    return numel // 2 + code + 4 * blocks


def optimizer_8bit_bytes(params: list[nn.Parameter]) -> int:
    """bitsandbytes' 8-bit Adam: per tensor of at least 4,096 values, two uint8 states, an fp32
    absmax per block of 256 and two 256-entry fp32 code books; smaller tensors keep two fp32
    states."""
    total = 0
    for p in params:
        n = p.numel()
        if n >= BNB_MIN_8BIT_SIZE:
            total += 2 * (n + 4 * (-(-n // BNB_BLOCK)) + 4 * 256)
        else:
            total += 2 * 4 * n
    return total


def paged_state_bytes(params: list[nn.Parameter]) -> int:
    """The part of optimizer_8bit_bytes a paged optimizer puts in unified memory: the two uint8
    states of each tensor of at least 100,000 values (bitsandbytes' get_state_buffer); the
    block absmax stay in torch's allocator."""
    return sum(2 * p.numel() for p in params if p.numel() >= BNB_MIN_PAGED_SIZE)


def _inputs(
    task_kind: str, batch_size: int, max_length: int, vocab: int, labels: int, device: str
) -> dict:
    ids = torch.zeros((batch_size, max_length), dtype=torch.long, device=device)
    if task_kind == "generation":
        return {"input_ids": ids, "labels": ids}
    if task_kind == "token":  # a tag per token
        return {"input_ids": ids, "labels": torch.zeros_like(ids)}
    return {"input_ids": ids, "labels": torch.zeros(batch_size, dtype=torch.long, device=device)}


def _preference_loss(
    net: nn.Module, reference: nn.Module | None, kind: str, batch: dict
) -> torch.Tensor:
    """A preference step's loss as the cells' loop computes it (bench.regimes.preference): the
    batch holds the chosen then the rejected sequence of each pair; DPO runs its reference
    without gradients while the policy's activations are held."""
    from bench.regimes.preference import dpo_loss, reward_loss, sequence_logprobs

    ids, labels = batch["input_ids"], batch["labels"]
    pairs = ids.size(0) // 2
    logits = net(input_ids=ids).logits
    if kind == "reward":
        scores = logits.float().squeeze(-1)
        return reward_loss(scores[:pairs], scores[pairs:]).mean()
    policy = sequence_logprobs(logits, labels)
    off = net.disable_adapter() if reference is None else contextlib.nullcontext()
    with torch.no_grad(), off:
        ref = sequence_logprobs((reference or net)(input_ids=ids).logits, labels)
    return dpo_loss(policy[:pairs], policy[pairs:], ref[:pairs], ref[pairs:], 0.1)[0].mean()


LAYER_FIELDS = ("num_hidden_layers", "n_layer")
EXTRAPOLATE_ABOVE = 8  # deeper stacks are stepped at 2 and 3 blocks and extended
COMPONENTS = ("weights", "gradients", "optimizer_states", "activations_and_temporaries")


def estimate(
    model: str,
    method: str,
    settings: dict[str, Any] | None = None,
    shape: StepShape | None = None,
    *,
    extrapolate: bool = True,
) -> Estimate:
    """The predicted training-step peak of `method` on `model` (a shipped or registered
    config), every sequence `max_length` tokens long (the worst case).

    With `extrapolate`, stacks deeper than EXTRAPOLATE_ABOVE blocks are stepped at 2 and 3
    blocks and every byte count of each phase (forward, backward, optimizer step) is extended
    linearly to the full depth, the peak being the largest phase there (exact when each block
    adds the same bytes to a phase's peak, which tests/test_estimate.py checks against the
    full-depth step); about 10x faster on a 7B model."""
    from bench.plan.meta_model import config_for

    started = time.perf_counter()
    raw = config_for(model)
    field_name = next((f for f in LAYER_FIELDS if f in raw), None)
    depth = int(raw[field_name]) if field_name else 0
    shape = shape or StepShape()
    if not extrapolate or depth <= EXTRAPOLATE_ABOVE:
        result = _estimate_at(model, method, settings, shape)
        result.seconds = time.perf_counter() - started
        return result
    two = _estimate_at(model, method, settings, shape, config_changes={field_name: 2})
    three = _estimate_at(model, method, settings, shape, config_changes={field_name: 3})

    def extend(a: float, b: float) -> int:
        return int(round(a + (depth - 2) * (b - a)))

    result = two
    # Each phase extended on its own: the phase that peaks at 2 and 3 blocks (often the loss,
    # whose logits do not grow with depth) need not be the one that peaks at full depth.
    result.phases = {
        name: {k: extend(two.phases[name][k], three.phases[name][k]) for k in COMPONENTS}
        for name in two.phases
    }
    peak_phase = _peak_phase(result.phases)
    result.components = dict(result.phases[peak_phase])
    result.basis["peak"] = f"during the {peak_phase}"
    result.peak_allocated_bytes = sum(result.components.values())
    result.managed_bytes = extend(two.managed_bytes, three.managed_bytes)
    result.peak_device_bytes = device_bytes(result.peak_allocated_bytes) + result.managed_bytes
    result.costs = extend_costs(two.costs, three.costs, depth)
    result.activations_saved_bytes = extend(
        two.activations_saved_bytes, three.activations_saved_bytes
    )
    result.trainable_params = extend(two.trainable_params, three.trainable_params)
    result.total_params = extend(two.total_params, three.total_params)
    result.basis["depth"] = f"stepped at 2 and 3 of {depth} blocks, extended linearly"
    result.seconds = time.perf_counter() - started
    return result


def _peak_phase(phases: dict[str, dict[str, int]]) -> str:
    """The phase whose own peak is the largest."""
    return max(phases, key=lambda name: sum(phases[name].values()))


def _fused_step_costs(table: dict, step_bytes: int, tensors: int) -> None:
    """Replace the traced optimizer step's costs by one fused kernel per tensor moving
    `step_bytes` in all (the traced stand-in ran another optimizer, or unfused)."""
    table["optimizer step"] = {}
    add_costs(table, "optimizer step", "memory@-", 0.0, step_bytes, tensors)


def device_bytes(allocated: int) -> int:
    """What NVML would show for an allocator peak (analytic leads, see the constants)."""
    return int(allocated * (1 + ALLOCATOR_CACHE_FRACTION)) + CUDA_CONTEXT_BYTES


def _estimate_at(
    model: str,
    method: str,
    settings: dict[str, Any] | None,
    shape: StepShape,
    config_changes: dict[str, Any] | None = None,
) -> Estimate:
    """One training step of the model as configured on meta (or fake) tensors (see `estimate`)."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    from bench.plan.meta_model import base_on_meta, build_on_meta

    started = time.perf_counter()
    precision, batch_size, max_length = shape.precision, shape.batch_size, shape.max_length
    optimizer, grad_checkpointing = shape.optimizer, shape.grad_checkpointing
    task_kind, num_labels = shape.task_kind, shape.num_labels
    recipe = get_recipe(precision)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r} is not one of: {', '.join(OPTIMIZERS)}")
    info = METHODS.get(method)
    if grad_checkpointing and info.no_checkpointing:
        raise Unsupported(info.no_checkpointing)
    bits = info.quantized_bits
    # Meta and fake tensors hold no values: scalars read from them are answered (see there);
    # True also tells transformers' packed-sequence check that the batch is not packed.
    answers = ScalarAnswers(info.meta_truth)
    with answers:
        built = build_on_meta(
            model, method, settings, task_kind, num_labels, recipe.weights, config_changes
        )
    net, heads, config = built.model, built.heads, built.config
    positions = getattr(config, "max_position_embeddings", None) or getattr(
        config, "n_positions", None
    )
    if positions and max_length > positions:
        raise ValueError(f"max_length {max_length} exceeds {model}'s {positions} positions")
    if recipe.added_fp32:
        keep_added_fp32(net, built.base_ids, heads, recipe.weights)
    quantized = _quantized_linears(net, heads) if bits else []
    if grad_checkpointing:
        enable_gradient_checkpointing(net)
    if shape.loss_chunks:
        use_chunked_loss(net, shape.loss_chunks)
    trainable = [p for p in net.parameters() if p.requires_grad]
    counts = (sum(p.numel() for p in trainable), sum(p.numel() for p in net.parameters()))
    reference = None
    if shape.preference == "dpo-copy":  # a frozen second model, in the recipe's weight dtype
        reference = base_on_meta(
            model, task_kind or "generation", num_labels, recipe.weights, config_changes
        )
    # Meta tensors where no autocast is needed (3x faster than fake ones); autocast exists
    # for real devices only, so amp recipes step on fake CPU tensors.
    fake = recipe.autocast is not None
    device = "cpu" if fake else "meta"
    mode: Any = FakeTensorMode(allow_non_fake_inputs=True) if fake else contextlib.nullcontext()
    with mode, answers, flash_attention():
        if fake:
            _fake_copy(net)
            if reference is not None:
                _fake_copy(reference)
        trainable = [p for p in net.parameters() if p.requires_grad]

        def make_optimizer(params: list[Any]) -> torch.optim.Optimizer:
            if optimizer.endswith("8bit"):  # its states are analytic (below)
                return torch.optim.SGD(params, lr=1e-3)
            # Fused AdamW takes no meta tensors: there the single-tensor loop stands in (its
            # temporaries are one tensor's, as the fused kernel's are none); its cost is
            # replaced below.
            fused = optimizer == "adamw-fused"
            return torch.optim.AdamW(
                params, lr=1e-4, foreach=optimizer == "adamw", fused=fused and fake
            )

        tracker = LiveBytes()
        costs = OpCosts()
        grad_keys: set[int] = set()

        @contextlib.contextmanager
        def stepping(param: nn.Parameter) -> Iterator[None]:
            """Around a step in backward: its gradient counted, its ops the step's."""
            grad_keys.update(tracker.serials([param.grad]))
            costs.phase("optimizer step")
            try:
                yield
            finally:
                costs.phase("backward")

        in_backward = (
            OptimizerInBackward([{"params": trainable}], make_optimizer, around=stepping)
            if shape.optimizer_in_backward
            else None
        )
        opts = list(in_backward.optimizers.values()) if in_backward else [make_optimizer(trainable)]
        vocab = int(getattr(config, "vocab_size", 32000))
        sequences = batch_size * (2 if shape.preference else 1)  # a pair: chosen and rejected
        batch = _inputs(built.task_kind, sequences, max_length, vocab, num_labels, device)
        net.train()

        def loss_of() -> torch.Tensor:
            if shape.preference:
                kind = "reward" if shape.preference == "reward" else "dpo"
                return _preference_loss(net, reference, kind, batch)
            return net(**batch).loss

        def forward() -> torch.Tensor:
            if recipe.autocast is None:
                return loss_of()
            with torch.autocast("cpu", dtype=recipe.autocast):
                return loss_of()

        for opt in opts:  # a first step on zero gradients creates the optimizer's states
            for group in opt.param_groups:
                for p in group["params"]:
                    p.grad = torch.zeros_like(p)
            opt.step()
            opt.zero_grad(set_to_none=True)
        weights = list(net.parameters()) + list(net.buffers())
        if reference is not None:
            weights += list(reference.parameters()) + list(reference.buffers())
        states = [
            v for opt in opts for s in opt.state.values() for v in s.values() if torch.is_tensor(v)
        ]
        tracker.track(weights + states)
        weight_keys, state_keys = tracker.serials(weights), tracker.serials(states)

        def phase(name: str) -> None:
            tracker.phase(name)
            costs.phase(name)

        with tracker, costs:
            phase("forward")
            loss = forward()
            saved = tracker.sweep() - tracker.bytes_of(weight_keys | state_keys)
            phase("backward")
            loss.backward()
            grad_keys |= tracker.serials(p.grad for p in trainable if p.grad is not None)
            if in_backward is None:  # in backward: each parameter stepped as its gradient came
                phase("gradient clipping")
                torch.nn.utils.clip_grad_norm_(trainable, 1.0)  # as the cells' loop (grad_clip)
                phase("optimizer step")
                opts[0].step()
                opts[0].zero_grad(set_to_none=True)
        if in_backward is not None:
            in_backward.remove()

    def parts(at_peak: dict[int, int], peak: int) -> dict[str, int]:
        def part(keys: set[int]) -> int:
            return sum(n for k, n in at_peak.items() if k in keys)

        out = {
            "weights": part(weight_keys),
            "gradients": part(grad_keys),
            "optimizer_states": part(state_keys),
        }
        out["activations_and_temporaries"] = peak - sum(out.values())
        return out

    phases = {name: parts(at, peak) for name, (peak, at) in tracker.phases.items()}
    basis = {
        "weights, gradients, optimizer states, activations": (
            "one training step on fake CPU tensors (autocast)"
            if fake
            else "one training step on meta tensors"
        ),
        "peak_device_bytes": (
            f"analytic: + {CUDA_CONTEXT_BYTES // 2**20} MiB CUDA context + "
            f"{ALLOCATOR_CACHE_FRACTION:.0%} allocator cache (uncalibrated leads)"
        ),
    }
    if shape.preference:
        basis["preference"] = {
            "reward": "a reward head on both sequences of each pair (2 x batch sequences)",
            "dpo-adapter-off": (
                "DPO: 2 x batch sequences through the policy, then through the same model with "
                "its method switched off (no gradients) while the policy's activations are held"
            ),
            "dpo-copy": (
                "DPO: 2 x batch sequences through the policy, then through a frozen copy of the "
                "base (its weights counted; no gradients) while the policy's activations are held"
            ),
        }[shape.preference]
    if optimizer == "adamw-fused" and not fake:
        # One fused kernel reads weight, gradient and both states and writes weight and states.
        step_bytes = sum(7 * p.numel() * p.element_size() for p in trainable)
        _fused_step_costs(costs.table, step_bytes, len(trainable))
    managed = 0
    if optimizer.endswith("8bit"):
        if optimizer.startswith("paged"):
            managed = paged_state_bytes(trainable)
        for components in phases.values():
            components["optimizer_states"] = optimizer_8bit_bytes(trainable) - managed
        basis["optimizer_states"] = "analytic: bitsandbytes 8-bit Adam (2 states, block absmax)"
        if managed:
            basis["optimizer_states"] += (
                "; the paged uint8 states of tensors of 100,000 values or more are in CUDA "
                "unified memory (managed_bytes), which no torch counter sees"
            )
        # The traced step ran SGD in its place: one fused kernel reads the weight, its gradient
        # and both 8-bit states, and writes the weight and the states.
        step_bytes = sum(p.numel() * (3 * p.element_size() + 4) for p in trainable)
        _fused_step_costs(costs.table, step_bytes, len(trainable))
    if quantized:
        double = bool(built.settings.get("double_quant", True))
        full = sum(m.weight.numel() * m.weight.element_size() for m in quantized)
        packed = sum(
            quantized_weight_bytes(m.weight.numel(), m.weight.shape[0], bits, double)
            for m in quantized
        )
        largest = max(m.weight.numel() * m.weight.element_size() for m in quantized)
        # Each pass over a quantised layer dequantises its weight: the packed bytes read and the
        # compute-dtype weight written (forward, backward, and the recomputation when
        # checkpointing); the matmul that reads it was traced.
        passes = {"forward": 1, "backward": 2 if grad_checkpointing else 1}
        for name, count in passes.items():
            add_costs(
                costs.table,
                name,
                "memory@-",
                0.0,
                count * (packed + full),
                count * len(quantized),
            )
        for name, components in phases.items():
            components["weights"] += packed - full
            if name in ("forward", "backward"):  # one weight dequantised at a time
                components["activations_and_temporaries"] += largest
        basis["weights"] = (
            f"analytic for the {len(quantized)} quantised linear layers ({bits}-bit bitsandbytes "
            "layout), the traced step for the rest"
        )
    peak_phase = _peak_phase(phases)
    components = dict(phases[peak_phase])
    basis["peak"] = f"during the {peak_phase}"
    allocated = sum(components.values())
    return Estimate(
        model=model,
        method=method,
        settings=dict(built.settings),
        precision=precision,
        optimizer=optimizer,
        grad_checkpointing=grad_checkpointing,
        batch_size=batch_size,
        max_length=max_length,
        task_kind=built.task_kind,
        peak_allocated_bytes=allocated,
        peak_device_bytes=device_bytes(allocated) + managed,
        components=components,
        activations_saved_bytes=saved,
        trainable_params=counts[0],
        total_params=counts[1],
        basis=basis,
        seconds=time.perf_counter() - started,
        phases=phases,
        costs=costs.table,
        optimizer_in_backward=shape.optimizer_in_backward,
        loss_chunks=shape.loss_chunks,
        managed_bytes=managed,
    )
