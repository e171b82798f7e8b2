"""Swap a model's linear layers for bitsandbytes 4-bit (NF4/FP4) or 8-bit (LLM.int8) ones."""

from __future__ import annotations

import torch
from torch import nn

from bench.models.precision import DTYPES
from bench.models.sources import is_linear

QUANT_TYPES = ("nf4", "fp4")
KEEP_FULL_PRECISION = ("lm_head",)  # as transformers does: the output layer stays unquantised


def compute_dtype_for(name: str, device: str) -> torch.dtype:
    """'auto' is bf16 on CUDA and fp32 on the CPU."""
    choices = {"auto": DTYPES["bf16"] if device.startswith("cuda") else DTYPES["fp32"], **DTYPES}
    if name not in choices:
        raise ValueError(f"compute dtype {name!r} is not one of {', '.join(choices)}")
    return choices[name]


def _as_linear(module: nn.Module) -> nn.Linear:
    """GPT-2's Conv1D holds the transposed weight of a Linear: turn it into one."""
    if isinstance(module, nn.Linear):
        return module
    linear = nn.Linear(module.weight.shape[0], module.nf, bias=module.bias is not None)
    linear.weight.data = module.weight.data.t().contiguous()
    if module.bias is not None:
        linear.bias.data = module.bias.data
    return linear


def _quantized(
    linear: nn.Linear, bits: int, quant_type: str, double_quant: bool, compute_dtype: torch.dtype
) -> nn.Module:
    import bitsandbytes as bnb

    has_bias = linear.bias is not None
    if bits == 4:
        layer = bnb.nn.Linear4bit(
            linear.in_features,
            linear.out_features,
            bias=has_bias,
            compute_dtype=compute_dtype,
            compress_statistics=double_quant,
            quant_type=quant_type,
        )
        layer.weight = bnb.nn.Params4bit(
            linear.weight.data,
            requires_grad=False,
            compress_statistics=double_quant,
            quant_type=quant_type,
        )
    else:
        layer = bnb.nn.Linear8bitLt(
            linear.in_features,
            linear.out_features,
            bias=has_bias,
            has_fp16_weights=False,
            threshold=6.0,
        )
        layer.weight = bnb.nn.Int8Params(
            linear.weight.data, requires_grad=False, has_fp16_weights=False
        )
    if has_bias:
        layer.bias = nn.Parameter(linear.bias.data, requires_grad=False)
    return layer


def quantize_linears(
    model: nn.Module,
    *,
    bits: int,
    device: str,
    skip: list[str],
    quant_type: str = "nf4",
    double_quant: bool = True,
    compute_dtype: torch.dtype = torch.float32,
) -> list[str]:
    """Replace every linear layer outside `skip` (and the LM head); quantise on `device`."""
    if bits not in (4, 8):
        raise ValueError(f"bits must be 4 or 8, got {bits}")
    if quant_type not in QUANT_TYPES:
        raise ValueError(f"quant_type {quant_type!r} is not one of {', '.join(QUANT_TYPES)}")
    keep = set(skip) | set(KEEP_FULL_PRECISION)
    names = [n for n, m in model.named_modules() if is_linear(m) and not keep & set(n.split("."))]
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        layer = _quantized(
            _as_linear(getattr(parent, child)), bits, quant_type, double_quant, compute_dtype
        )
        setattr(parent, child, layer.to(device))  # bitsandbytes quantises on the move
    return names
