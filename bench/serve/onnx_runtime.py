"""The served model exported to ONNX and run by ONNX Runtime (every provider this machine has:
CPU; CUDA and TensorRT where installed), and its int8 dynamic quantisation (ONNX Runtime's
quantiser): each checked against PyTorch's outputs on the same examples."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.data.splits import Encoded, collate

Batch = dict[str, torch.Tensor]
INPUTS = ("input_ids", "attention_mask")


class LogitsOnly(nn.Module):
    """The model's logits from ids and mask: the graph ONNX exports (no ModelOutput, no loss)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask).logits


def padded_sample(data: Encoded, pad_id: int) -> Batch:
    """Two rows, the second one token shorter and padded: tracing sees a mask with a zero, so
    the graph keeps the masking that padded batches need (an all-ones mask would be dropped)."""
    ids = list(data.input_ids[0])
    if len(ids) < 2:
        ids = ids + ids
    return collate(Encoded([ids, ids[:-1]], [data.labels[0]] * 2), [0, 1], pad_id)


def export_onnx(model: nn.Module, sample: Batch, path: Path) -> None:
    """Export on the CPU with batch and sequence length dynamic (torch.onnx's TorchScript
    exporter, which takes transformers' masks as they are); `sample`: a padded_sample."""
    wrapped = LogitsOnly(model).cpu().eval()
    args = tuple(sample[name].cpu() for name in INPUTS)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in INPUTS}
    with torch.no_grad(), warnings.catch_warnings():
        # Deprecated for torch.export's exporter, which does not yet take these models whole;
        # the tracer's notes on the branches it fixed (a padded sample keeps the mask's)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", "Exporting aten::index", UserWarning)
        torch.onnx.export(
            wrapped,
            args,
            str(path),
            input_names=list(INPUTS),
            output_names=["logits"],
            dynamic_axes={**dynamic, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def providers() -> list[str]:
    """ONNX Runtime's providers on this machine, the fastest first (TensorRT, CUDA, CPU)."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    order = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")
    return [p for p in order if p in available]


def session(path: Path, provider: str) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=[provider])


def runner(onnx_session: Any) -> Callable[[Batch], Any]:
    """A batch of torch tensors in, the logits out, through the session."""

    def run(batch: Batch) -> Any:
        feed = {name: batch[name].cpu().numpy() for name in INPUTS}
        return onnx_session.run(["logits"], feed)[0]

    return run


def onnx_logits(run: Callable[[Batch], Any], data: Encoded, pad_id: int) -> torch.Tensor:
    """Every example's logits through `run`, in order, batched as logits_of batches."""
    rows = []
    for start in range(0, len(data), 64):
        indices = list(range(start, min(start + 64, len(data))))
        rows.append(torch.from_numpy(np.asarray(run(collate(data, indices, pad_id)))).float())
    return torch.cat(rows)


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantisation of the weights (activations quantised at run time)."""
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()  # the quantiser advises pre-processing on the root logger
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        root.setLevel(level)
