"""The inference stage of a cell, after its evaluation: what ships, whether it loads back to
the same outputs, whether merging changes them, the forward pass's counted FLOPs, many tasks on
one base, and the serving latency of the base, the trained model, the merged one, the
multi-task model and ONNX Runtime's, timed side by side."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.data.splits import Encoded, collate, to_device
from bench.serve.compute import forward_flops
from bench.serve.latency import Call, module_call, time_variants
from bench.serve.many_tasks import many_tasks_stage
from bench.serve.merge import logits_of, merged_copy, output_agreement
from bench.serve.shipped import reload_shipped, save_shipped

SERVING_BATCH = 32


def inference_stage(
    model: nn.Module,
    base: Callable[[], nn.Module],
    rebuilt: Callable[[], nn.Module],
    data: Encoded,
    device: torch.device,
    pad_id: int,
) -> dict[str, Any]:
    """The cell's serving record on `data` (its test part): `base()` loads the base model as
    the cell did, `rebuilt()` the base with the method applied (before training)."""
    record: dict[str, Any] = {}
    trained = logits_of(model, data, device, pad_id)
    merged, how = merged_copy(model, base)
    record["merge"] = {"how": how, "merged": merged is not None}
    if merged is not None:
        record["merge"].update(output_agreement(trained, logits_of(merged, data, device, pad_id)))
    served = merged if merged is not None else model
    models = {"base": base().to(device), "trained": model}
    if merged is not None:
        models["merged"] = merged
    single = to_device(collate(data, [0], pad_id), device)
    serving = to_device(collate(data, list(range(min(SERVING_BATCH, len(data)))), pad_id), device)
    record["flops_b1"] = {name: forward_flops(m, single) for name, m in models.items()}
    variants = {name: module_call(m) for name, m in models.items()}
    with tempfile.TemporaryDirectory(prefix="ftbench-serve-") as tmp:
        shipped = Path(tmp) / "shipped"
        record["shipped"] = save_shipped(model, shipped)
        started = time.perf_counter()
        loaded = reload_shipped(shipped, base, rebuilt).to(device)
        record["shipped"]["load_s"] = time.perf_counter() - started
        record["shipped"]["reloaded"] = output_agreement(
            trained, logits_of(loaded, data, device, pad_id)
        )
        del loaded
        try:
            record["many_tasks"], task_calls = many_tasks_stage(
                model, shipped, base, served, serving, device
            )
            variants.update(task_calls)
        except Exception as exc:  # said beside the rest, which goes on
            record["many_tasks"] = {"error": f"{type(exc).__name__}: {exc}"}
        record["onnx"], onnx_variants = onnx_stage(served, data, pad_id, trained, Path(tmp))
        variants.update(onnx_variants)
        record["latency"] = time_variants(variants, single, serving, device)
    return record


def onnx_stage(
    served: nn.Module, data: Encoded, pad_id: int, reference: torch.Tensor, folder: Path
) -> tuple[dict[str, Any], dict[str, Call]]:
    """The served model (merged where it merges) through ONNX Runtime, fp32 and int8: their
    agreement with PyTorch's logits (`reference`), accuracy against the labels for a
    classifier, and the calls to time beside the others. An export or a session that fails is
    recorded, and the rest of the stage goes on."""
    import importlib.util

    from bench.serve.onnx_runtime import (
        export_onnx,
        onnx_logits,
        padded_sample,
        providers,
        quantize_int8,
        runner,
        session,
    )

    if importlib.util.find_spec("onnxruntime") is None:
        return {"error": "onnxruntime is not installed: pip install -e '.[serving]'"}, {}
    fp32, int8 = folder / "model.onnx", folder / "model.int8.onnx"
    try:
        started = time.perf_counter()
        export_onnx(served, padded_sample(data, pad_id), fp32)
        export_s = time.perf_counter() - started
        quantize_int8(fp32, int8)
        provider = providers()[0]
        runs = {
            "onnx": runner(session(fp32, provider)),
            "onnx int8": runner(session(int8, provider)),
        }
    except Exception as exc:  # exporters refuse some graphs: said, not fatal
        return {"error": f"{type(exc).__name__}: {exc}"}, {}
    record: dict[str, Any] = {
        "exporter": "torch.onnx (TorchScript), opset 17",
        "provider": provider,
        "export_s": export_s,
        "bytes": {"fp32": fp32.stat().st_size, "int8": int8.stat().st_size},
    }
    labels = None if data.regression else torch.tensor(data.labels)
    for name, run in runs.items():
        logits = onnx_logits(run, data, pad_id)
        record[name] = output_agreement(reference, logits)
        if labels is not None:
            record[name]["accuracy"] = float((logits.argmax(-1) == labels).float().mean())
    if labels is not None:
        record["pytorch_accuracy"] = float((reference.argmax(-1) == labels).float().mean())
    return record, runs
