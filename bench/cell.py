"""Run one cell in the current process: data, model, method, training, meters, predictions."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from typing import Any

import torch

from bench.data import collate, encode, make_split
from bench.environment import environment
from bench.errors import Unsupported
from bench.meters.energy import EnergyMeter
from bench.meters.memory import PeakMemory
from bench.meters.params import count_parameters
from bench.method_api import MethodContext
from bench.metrics import compute_metrics, majority_baseline, per_class_recall
from bench.models import get_model, head_module_names
from bench.registry import METHODS, TASKS
from bench.spec import CellSpec
from bench.train import LoopConfig, plan_batches, predict, train_loop

ProgressFn = Callable[[int, int, float], None]


def _device(spec: CellSpec) -> torch.device:
    if spec.device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"cell asks for device {spec.device!r} but CUDA is not available")
    return torch.device(spec.device)


def run_cell(spec: CellSpec, on_step: ProgressFn | None = None) -> dict[str, Any]:
    """Train and evaluate one cell; returns the result record (status ok) or raises."""
    wall_start = time.perf_counter()
    device = _device(spec)
    task = TASKS.get(spec.task)
    method = METHODS.get(spec.method)
    model_info = get_model(spec.model)
    settings = method.resolve_settings(spec.settings_dict())
    if model_info.kind not in method.supports:
        raise Unsupported(
            f"method {method.name!r} supports {', '.join(method.supports)} models; "
            f"{model_info.name!r} is a {model_info.kind}"
        )
    if task.kind != "classification":
        raise Unsupported(f"task kind {task.kind!r} is not trained by this version of the loop")

    split = make_split(task.load(), task.val_size, task.test_size, spec.train_size)
    memory = PeakMemory(device).start()
    torch.manual_seed(spec.seed)  # the seed fixes head initialisation, dropout and data order
    model, tokenizer = model_info.load(task.kind, len(split.label_names))
    heads = head_module_names(model)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    train = encode(tokenizer, *split.train, spec.max_length)
    validation = encode(tokenizer, *split.validation, spec.max_length)
    test = encode(tokenizer, *split.test, spec.max_length)
    cfg = LoopConfig.from_spec(spec)
    batches = plan_batches(len(train), cfg)
    ctx = MethodContext(
        model_kind=model_info.kind,
        task_kind=task.kind,
        head_names=heads,
        seed=spec.seed,
        total_steps=len(batches),
        device=str(device),
        calibration_batches=lambda n: [collate(train, b, pad_id) for b in batches[:n]],
    )
    model = method.apply(model, settings, ctx)
    params = count_parameters(model, heads)
    model.to(device)

    def evaluate_validation() -> dict[str, float]:
        preds, _, loss = predict(model, validation, device, pad_id, spec.precision)
        return {
            "val_loss": loss,
            **{
                f"val_{k}": v
                for k, v in compute_metrics(task.metrics, validation.labels, preds).items()
            },
        }

    energy = EnergyMeter(device).start()
    loop = train_loop(
        model,
        train,
        device,
        pad_id,
        cfg,
        on_step=on_step,
        step_hooks=ctx.step_hooks,
        evaluate=evaluate_validation,
    )
    energy_out = energy.stop()
    final_val = evaluate_validation()
    loop.curve.append({"step": len(loop.losses), **final_val})
    preds, probs, test_loss = predict(model, test, device, pad_id, spec.precision)
    memory_out = memory.stop()

    speed = loop.timer.summary()
    joules = energy_out["energy_j"]
    return {
        "status": "ok",
        "params": params,
        "memory": memory_out,
        "speed": speed,
        "energy": {
            **energy_out,
            "energy_per_sample_j": joules / loop.samples_seen if joules is not None else None,
        },
        "metrics": {"test_loss": test_loss, **compute_metrics(task.metrics, test.labels, preds)},
        "per_class_recall": per_class_recall(test.labels, preds, split.label_names),
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
            "majority_baseline": majority_baseline(train.labels, test.labels),
        },
        "settings": settings,
        "predictions": [
            {"idx": i, "label": y, "pred": p, "score": max(pr)}
            for i, (y, p, pr) in enumerate(zip(test.labels, preds, probs, strict=True))
        ],
        "wall_s": time.perf_counter() - wall_start,
        "env": environment(device),
    }


def failure_record(exc: BaseException) -> dict[str, Any]:
    """Map an exception to a stored status: unsupported, oom or error (with the traceback)."""
    if isinstance(exc, Unsupported):
        status = "unsupported"
    elif isinstance(exc, torch.OutOfMemoryError | MemoryError):
        status = "oom"
    else:
        status = "error"
    text = "".join(traceback.format_exception(exc)).strip()
    return {"status": status, "error": f"{type(exc).__name__}: {exc}", "traceback": text}
