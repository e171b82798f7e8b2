"""Our predicted peak for each reference's training step, in the counter the reference used,
beside what `accelerate estimate-memory` and LLaMA-Factory's table give for the same row."""

from __future__ import annotations

from dataclasses import dataclass

from bench.plan.estimate import ALLOCATOR_CACHE_FRACTION, Estimate
from bench.predict.llama_factory import llama_factory_bytes
from bench.predict.references import Reference

GIB = 2**30

ACCELERATE_DTYPES = {
    "fp32": "float32",
    "bf16": "bfloat16",
    "amp-bf16": "bfloat16",
    "amp-fp16": "float16",
}


@dataclass(frozen=True)
class MemoryPrediction:
    """One reference row against our prediction and the two tools a user would ask instead."""

    reference: Reference
    predicted_bytes: int | None  # in the reference's counter; None where no estimate was made
    how: str  # how the figure in that counter is derived from the traced step
    peak_phase: str
    accelerate_bytes: int | None
    llama_factory_bytes: int | None
    unavailable: str = ""  # why no estimate was made

    @property
    def measured_bytes(self) -> float:
        return self.reference.memory_gib * GIB

    @property
    def error(self) -> float | None:
        """predicted / measured - 1 (positive: we predict more than was measured)."""
        if self.predicted_bytes is None:
            return None
        return self.predicted_bytes / self.measured_bytes - 1


def in_counter(est: Estimate, counter: str) -> tuple[int, str]:
    """The estimate's peak as the named counter would show it, and how that is derived."""
    if counter in ("allocated", "active"):
        return est.peak_allocated_bytes, "the traced step's peak of live tensors"
    if counter == "reserved":
        reserved = int(est.peak_allocated_bytes * (1 + ALLOCATOR_CACHE_FRACTION))
        return reserved, f"the traced peak + {ALLOCATOR_CACHE_FRACTION:.0%} allocator cache"
    return est.peak_device_bytes, "the traced peak + allocator cache + CUDA context"


def reference_estimate(ref: Reference, seq_len: int | None = None) -> Estimate:
    """Our estimate of the reference's step (at `seq_len` tokens per sequence, default the
    row's), kept on disk as the plans' estimates are."""
    from dataclasses import replace

    from bench.plan.planner import cached_estimate

    shape = replace(ref.shape, max_length=seq_len or ref.seq_len)
    return cached_estimate(ref.model, ref.method, tuple(sorted(ref.settings.items())), shape)


def reference_estimated(ref: Reference, seq_len: int | None = None) -> bool:
    """Whether reference_estimate is kept on disk already (answers at once)."""
    from dataclasses import replace

    from bench.plan.planner import stored_estimate

    shape = replace(ref.shape, max_length=seq_len or ref.seq_len)
    settings = tuple(sorted(ref.settings.items()))
    return stored_estimate(ref.model, ref.method, settings, shape) is not None


def accelerate_training_bytes(total_params: int, precision: str) -> int:
    """`accelerate estimate-memory`'s "Training using Adam" for the row's dtype: accelerate's
    own formula on the fp32 size of the model's parameters (as its empty model has them), for
    full fine-tuning at batch size 1 whatever the method."""
    from accelerate.commands.estimate import estimate_training_usage

    usage = estimate_training_usage(total_params * 4, ACCELERATE_DTYPES[precision])
    return int(max(usage.values()))


def predict_memory(ref: Reference, base_params: int) -> MemoryPrediction:
    """Our prediction for one reference (`base_params`: the base model's parameter count)."""
    from bench.core.errors import Unsupported

    accelerate = accelerate_training_bytes(base_params, ref.precision)
    factory = llama_factory_bytes(ref.method, ref.precision, base_params)
    try:
        est = reference_estimate(ref)
    except (Unsupported, ValueError, RuntimeError, NotImplementedError) as exc:
        return MemoryPrediction(
            ref, None, "", "", accelerate, factory, f"{type(exc).__name__}: {exc}"
        )
    predicted, how = in_counter(est, ref.counter)
    phase = est.basis.get("peak", "").removeprefix("during the ")
    return MemoryPrediction(ref, predicted, how, phase, accelerate, factory)


def base_params(model: str) -> int:
    """Parameters of the base model with its LM head (the figure both other tools scale with),
    counted on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    from bench.plan.meta_model import config_for

    raw = dict(config_for(model))
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    with torch.device("meta"):
        net = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in net.parameters())
