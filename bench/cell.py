"""Run one cell in the current process: data, model, method, training, meters, predictions."""

from __future__ import annotations

import dataclasses
import os
import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from bench.data import Encoded, Part, Split, collate, encode, make_split
from bench.environment import environment
from bench.errors import Unsupported
from bench.evaluation import evaluate_part
from bench.ewc import EWC
from bench.flops import StepFlops, mfu, peak_flops_for, training_flops_per_token
from bench.forgetting import ForgettingProbe, encode_texts
from bench.general_text import general_text
from bench.generation import encode_sft
from bench.load_target import LoadTarget, Quantization
from bench.meters.energy import EnergyMeter
from bench.meters.memory import PeakMemory
from bench.meters.params import count_parameters
from bench.method_api import MethodContext
from bench.metrics import LOWER_IS_BETTER, majority_baseline, per_class_recall
from bench.models import (
    NO_CHECKPOINTING,
    enable_gradient_checkpointing,
    get_model,
    head_module_names,
)
from bench.oom import is_device_oom, is_host_oom
from bench.precision import dtype_census, enable_tf32, get_recipe, keep_added_fp32
from bench.registry import METHODS, TASKS, split_common
from bench.self_training import select_pseudo_labels, summary, with_pseudo_labels
from bench.spec import CellSpec
from bench.token_cache import cached_encoding, tokenizer_fingerprint
from bench.train import (
    LoopConfig,
    LoopResult,
    plan_batches,
    plan_steps,
    predict,
    restore_trainable,
    to_device,
    train_loop,
    trainable_copy,
)
from bench.unfreeze import ProgressiveUnfreezing

ProgressFn = Callable[[int, int, float], None]
GENERAL_MAX_LENGTH = 128  # tokens per general-text passage (EWC's Fisher and forgetting)


def _device(spec: CellSpec) -> torch.device:
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"cell asks for device {spec.device!r} but CUDA is not available")
    device = torch.device(spec.device)
    if spec.emulate:
        _emulate(spec, device)
    return device


def _emulate(spec: CellSpec, device: torch.device) -> None:
    """Cap the allocator at the planned profile's memory (a 24 GB card on an 80 GB one)."""
    from bench.estimate import CUDA_CONTEXT_BYTES
    from bench.gpus import emulation_fraction, get_gpu

    if device.type != "cuda" or not spec.gpu:
        raise ValueError("emulate needs a CUDA device and the GPU profile to emulate")
    total = torch.cuda.get_device_properties(device).total_memory
    fraction = emulation_fraction(get_gpu(spec.gpu).memory_bytes, total, CUDA_CONTEXT_BYTES)
    torch.cuda.set_per_process_memory_fraction(fraction, device)


def _encode_parts(
    spec: CellSpec, kind: str, tokenizer: Any, split: Split
) -> tuple[Encoded, Encoded, Encoded]:
    """Train / validation / test encodings, from the on-disk cache when the key matches."""
    fingerprint = tokenizer_fingerprint(tokenizer)
    out = []
    for name in ("train", "validation", "test"):
        part: Part = getattr(split, name)
        key = {
            "tokenizer": fingerprint,
            "split": split.hash,
            "part": name,
            "kind": kind,
            "max_length": spec.max_length,
        }

        def build(part: Part = part) -> Encoded:
            if kind == "generation":
                return encode_sft(
                    tokenizer, part.texts, part.responses, part.labels, spec.max_length
                )
            return encode(
                tokenizer,
                part.texts,
                part.labels,
                spec.max_length,
                texts_b=part.texts_b,
                regression=kind == "regression",
            )

        out.append(cached_encoding(key, build))
    return out[0], out[1], out[2]


def load_target_for(
    source: str,
    device: torch.device,
    weights: torch.dtype,
    quantization: Quantization | None,
) -> LoadTarget:
    """Where the model is built: on its device in the recipe's weight dtype. A quantised base
    of pretrained weights is quantised at load on CUDA (BitsAndBytesConfig); one of a `config:`
    model (or any on the CPU) is built on the host in the compute dtype and quantised by the
    method layer by layer onto the device, so the device never holds the unquantised model."""
    if quantization is None:
        return LoadTarget(device, weights)
    dtype = quantization.compute_dtype if device.type == "cuda" else weights
    if source == "config" or device.type != "cuda":
        return LoadTarget(torch.device("cpu"), dtype, quantization)
    return LoadTarget(device, dtype, quantization)


def move_rest(model: torch.nn.Module, device: torch.device) -> None:
    """Move whatever is not yet on `device` (a method's new layers); a model already there,
    such as one quantised at load, is left alone (transformers refuses to move those)."""
    tensors = [*model.parameters(), *model.buffers()]
    if any(t.device != device for t in tensors if t.device.type != "meta"):
        model.to(device)


def _check_supported(spec: CellSpec, method: Any, model_info: Any, task: Any) -> None:
    if model_info.kind not in method.supports:
        raise Unsupported(
            f"method {method.name!r} supports {', '.join(method.supports)} models; "
            f"{model_info.name!r} is a {model_info.kind}"
        )
    if spec.grad_checkpointing and spec.method in NO_CHECKPOINTING:
        raise Unsupported(NO_CHECKPOINTING[spec.method])
    if task.kind == "generation" and model_info.kind != "decoder":
        raise Unsupported(f"generation task {task.name!r} needs a decoder; {spec.model!r} is not")


def _compile(model: torch.nn.Module) -> torch.nn.Module:
    """torch.compile with the backend FTBENCH_COMPILE_BACKEND names (inductor by default;
    tests use `eager` where no C++ compiler is at hand)."""
    return torch.compile(model, backend=os.environ.get("FTBENCH_COMPILE_BACKEND", "inductor"))


def _throughput(
    speed: dict[str, Any], flops: StepFlops, device: torch.device, spec: CellSpec, tf32: bool
) -> dict[str, Any]:
    """Model FLOPs per token, achieved FLOP/s over the steady steps, and MFU on a known card."""
    profile = None
    if device.type == "cuda":
        from bench.gpus import profile_for_device_name

        profile = profile_for_device_name(torch.cuda.get_device_name(device))
    padded_rate = speed.get("padded_tokens_per_s")
    per_s = flops.per_token * padded_rate if padded_rate is not None else None
    peak = peak_flops_for(profile, spec.precision, tf32)
    return {
        "flops_per_token": flops.per_token,
        "flops_parts": dataclasses.asdict(flops),
        "model_flops_per_s": per_s,
        "peak_flops": peak,
        "peak_source": profile.name if profile is not None else None,
        "mfu": mfu(per_s, peak) if per_s is not None else None,
    }


def _pseudo_label(
    spec: CellSpec,
    model: torch.nn.Module,
    tokenizer: Any,
    split: Split,
    train: Encoded,
    device: torch.device,
    pad_id: int,
    evaluate_validation: Callable[[], dict[str, float]],
) -> tuple[dict[str, Any], Encoded]:
    """The trained teacher labels the unlabelled pool; the record of it and the student's data."""
    if split.unlabelled is None or spec.self_training is None:
        raise ValueError("self-training needs a k-shot cell (shots) and a threshold")
    pool = encode(
        tokenizer,
        split.unlabelled.texts,
        split.unlabelled.labels,
        spec.max_length,
        texts_b=split.unlabelled.texts_b,
    )
    teacher = evaluate_validation()
    _, probs, _ = predict(model, pool, device, pad_id, spec.precision)
    picks = select_pseudo_labels(probs, spec.self_training)
    record = summary(
        picks, spec.self_training, split.unlabelled.labels, teacher, len(split.label_names)
    )
    return record, with_pseudo_labels(train, pool, picks)


def run_cell(
    spec: CellSpec,
    on_step: ProgressFn | None = None,
    on_evaluate: Callable[[dict[str, float]], None] | None = None,
) -> dict[str, Any]:
    """Train and evaluate one cell; returns the result record (status ok) or raises."""
    wall_start = time.perf_counter()
    device = _device(spec)
    task = TASKS.get(spec.task)
    method = METHODS.get(spec.method)
    model_info = get_model(spec.model)
    settings = method.resolve_settings(spec.settings_dict())
    _check_supported(spec, method, model_info, task)

    split = make_split(
        task.load(),
        task.val_size,
        task.test_size,
        spec.train_size,
        balance=spec.balance,
        shots=spec.shots,
        shot_seed=spec.seed,
    )
    memory = PeakMemory(device).start("load")
    torch.manual_seed(spec.seed)  # the seed fixes head initialisation, dropout and data order
    num_labels = 1 if task.kind == "regression" else len(split.label_names)
    recipe = get_recipe(spec.precision)
    tf32 = enable_tf32(device)
    quantization = (
        method.base_quantization(settings, str(device)) if method.base_quantization else None
    )
    target = load_target_for(model_info.source, device, recipe.weights, quantization)
    load_start = time.perf_counter()
    model, tokenizer = model_info.load(task.kind, num_labels, target)
    if task.kind == "regression":
        model.config.problem_type = "regression"
    base_ids = {id(p) for p in model.parameters()}
    heads = head_module_names(model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train, validation, test = _encode_parts(spec, task.kind, tokenizer, split)
    cfg = dataclasses.replace(
        LoopConfig.from_spec(spec),
        select_metric=f"val_{task.metric}",
        select_higher=task.metric not in LOWER_IS_BETTER,
    )
    batches = plan_batches(len(train), cfg)
    ctx = MethodContext(
        model_kind=model_info.kind,
        task_kind=task.kind,
        head_names=heads,
        seed=spec.seed,
        total_steps=len(plan_steps(len(train), cfg)),
        device=str(device),
        calibration_batches=lambda n: [
            to_device(collate(train, b, pad_id), device) for b in batches[:n]
        ],
    )
    own_settings, common = split_common(settings)
    model = method.apply(model, own_settings, ctx)  # on the device: scoring, SVDs run there
    if recipe.added_fp32:
        keep_added_fp32(model, base_ids, heads, recipe.weights)
    if spec.grad_checkpointing:
        enable_gradient_checkpointing(model)
    move_rest(model, device)
    params = count_parameters(model, heads)
    dtypes = dtype_census(model)
    attention = getattr(getattr(model, "config", None), "_attn_implementation", None)
    load_s = time.perf_counter() - load_start
    fisher_texts, held_out = general_text(task.general_text)
    positions = getattr(model.config, "max_position_embeddings", None) or GENERAL_MAX_LENGTH
    general_length = min(GENERAL_MAX_LENGTH, positions)
    held_out_ids = encode_texts(tokenizer, held_out, general_length)
    probe = ForgettingProbe(model, held_out_ids, pad_id, device, task.general_text)
    ewc = None
    if common["ewc_lambda"] > 0:
        fisher_ids = encode_texts(
            tokenizer, fisher_texts[: int(common["ewc_samples"])], general_length
        )
        ewc = EWC(model, heads, float(common["ewc_lambda"]), fisher_ids, pad_id, device)
    trained = _compile(model) if spec.compile else model

    def score(encoded: Encoded, part: Part, final: bool = False) -> tuple[dict, list]:
        return evaluate_part(
            task,
            model,
            tokenizer,
            encoded,
            part,
            device,
            pad_id,
            spec.precision,
            with_generation=final,
            max_new_tokens=spec.max_new_tokens or task.max_new_tokens,
        )

    def evaluate_validation() -> dict[str, float]:
        metrics = {f"val_{k}": v for k, v in score(validation, split.validation)[0].items()}
        if on_evaluate is not None:  # a scheduler (ASHA) may end the trial here
            on_evaluate(metrics)
        return metrics

    unfreeze = ProgressiveUnfreezing(model, spec.unfreeze_every) if spec.unfreeze_every else None
    initial = trainable_copy(model) if spec.self_training is not None else None

    def fit(data: Encoded) -> LoopResult:
        return train_loop(
            trained,
            data,
            device,
            pad_id,
            cfg,
            on_step=on_step,
            step_hooks=ctx.step_hooks,
            evaluate=evaluate_validation,
            regularizer=ewc.penalty if ewc is not None else None,
            unfreeze=unfreeze,
        )

    memory.boundary("train")
    energy = EnergyMeter(device).start()
    loop = fit(train)
    self_trained = None
    steps_total = len(loop.losses)
    if initial is not None:
        self_trained, student_data = _pseudo_label(
            spec, model, tokenizer, split, train, device, pad_id, evaluate_validation
        )
        self_trained["teacher_curve"] = loop.curve
        restore_trainable(model, initial)
        torch.manual_seed(spec.seed)  # the student's dropout, seeded like the cell
        loop = fit(student_data)
        steps_total += len(loop.losses)
        self_trained["student_examples"] = len(student_data)
    speed = loop.timer.summary()
    mean_length = speed.get("padded_tokens_total", 0) / max(loop.samples_seen, 1)
    flops = training_flops_per_token(model, max(1, round(mean_length)))
    energy_out = energy.stop(steps=steps_total, tokens=speed.get("tokens_total"))
    memory.boundary("evaluate")
    forgot = probe.finish()
    final_val = evaluate_validation()
    loop.curve.append({"step": len(loop.losses), **final_val})
    # a search trial is scored on validation: the test split is never read while searching
    scored, scored_part = (validation, split.validation) if spec.trial else (test, split.test)
    test_metrics, rows = score(scored, scored_part, final=True)
    memory_out = memory.stop()

    classes = task.kind == "classification"
    joules = energy_out["energy_j"]
    return {
        "status": "ok",
        "params": params,
        "memory": memory_out,
        "speed": speed,
        "throughput": _throughput(speed, flops, device, spec, tf32),
        "energy": {
            **energy_out,
            "energy_per_sample_j": joules / loop.samples_seen if joules is not None else None,
        },
        "metrics": {f"test_{k}" if k == "loss" else k: v for k, v in test_metrics.items()},
        "per_class_recall": (
            per_class_recall(scored.labels, [r["pred"] for r in rows], split.label_names)
            if classes
            else None
        ),
        "primary_metric": task.metric,
        "curve": loop.curve,
        "train_loss": {
            "first": loop.losses[0],
            "last": loop.losses[-1],
            "mean_last_10": sum(loop.losses[-10:]) / len(loop.losses[-10:]),
        },
        "data": {
            "split_hash": split.hash,
            "distribution": split.distribution(),
            "dropped": split.dropped,
            "train_examples": len(train),
            "balance": spec.balance,
            "majority_baseline": (
                majority_baseline(train.labels, scored.labels) if classes else None
            ),
        },
        "settings": settings,
        "precision": {"recipe": spec.precision, "tf32": tf32, "dtypes": dtypes},
        "load": {
            "seconds": load_s,
            "device": str(target.device),
            "dtype": str(target.dtype).removeprefix("torch."),
            "quantized_at": ctx.info.get("quantized_at"),
            "attention": attention,
            "compile": spec.compile,
        },
        "evaluated_on": "validation" if spec.trial else "test",
        "regime": {
            "grad_accumulation": spec.grad_accumulation,
            "effective_batch_size": spec.batch_size * spec.grad_accumulation,
            "shots": spec.shots,
            "early_stopping": loop.early_stopping,
            "progressive_unfreezing": unfreeze.summary() if unfreeze is not None else None,
            "self_training": self_trained,
        },
        "forgetting": forgot,
        "ewc": ewc.summary() if ewc is not None else None,
        "predictions": rows,
        "wall_s": time.perf_counter() - wall_start,
        "env": environment(device),
    }


def failure_record(exc: BaseException) -> dict[str, Any]:
    """Map an exception to a stored status: unsupported, oom (the device's, whatever exception
    carries it, with the allocator's peak), host_oom, or error; with the traceback."""
    record: dict[str, Any] = {}
    if isinstance(exc, Unsupported):
        status = "unsupported"
    elif is_device_oom(exc):
        status = "oom"
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            record["memory"] = {
                "torch_max_allocated_bytes": torch.cuda.max_memory_allocated(),
                "torch_max_reserved_bytes": torch.cuda.max_memory_reserved(),
            }
    elif is_host_oom(exc):
        status = "host_oom"
    else:
        status = "error"
    text = "".join(traceback.format_exception(exc)).strip()
    return {"status": status, "error": f"{type(exc).__name__}: {exc}", "traceback": text, **record}
