"""Where and how a model is loaded: its device, its dtype and an optional bitsandbytes base."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

# Modules that stay unquantised, as transformers does: the task heads and the output layer.
UNQUANTISED_MODULES = ("classifier", "score", "lm_head")


@dataclass(frozen=True)
class Quantization:
    """A bitsandbytes base: 4-bit (nf4 / fp4, optionally double-quantised) or 8-bit."""

    bits: int
    quant_type: str = "nf4"
    double_quant: bool = True
    compute_dtype: torch.dtype = torch.bfloat16

    def bnb_config(self) -> Any:
        """The transformers BitsAndBytesConfig that loads pretrained weights this way."""
        from transformers import BitsAndBytesConfig

        if self.bits == 4:
            return BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type=self.quant_type,
                bnb_4bit_use_double_quant=self.double_quant,
                bnb_4bit_compute_dtype=self.compute_dtype,
                llm_int8_skip_modules=list(UNQUANTISED_MODULES),
            )
        return BitsAndBytesConfig(
            load_in_8bit=True, llm_int8_skip_modules=list(UNQUANTISED_MODULES)
        )


@dataclass(frozen=True)
class LoadTarget:
    """Load on `device` in `dtype`; with `quantization`, pretrained weights are quantised at
    load on a CUDA device (config models and CPU runs are quantised by the method itself)."""

    device: torch.device = torch.device("cpu")
    dtype: torch.dtype = torch.float32
    quantization: Quantization | None = None

    def quantize_at_load(self) -> bool:
        """Whether from_pretrained should quantise (a CUDA device and a quantised base)."""
        return self.quantization is not None and self.device.type == "cuda"


def target_or_default(target: LoadTarget | None) -> LoadTarget:
    return target if target is not None else LoadTarget()


def pretrained_kwargs(target: LoadTarget) -> dict[str, Any]:
    """from_pretrained's arguments: the dtype, the device map, any quantisation config."""
    kwargs: dict[str, Any] = {"dtype": target.dtype}
    if target.device.type != "cpu":
        kwargs["device_map"] = {"": str(target.device)}
    if target.quantize_at_load():
        kwargs["quantization_config"] = target.quantization.bnb_config()
        kwargs["dtype"] = target.quantization.compute_dtype
    return kwargs


def quantized_module_names(model: torch.nn.Module) -> list[str]:
    """Names of the layers that are bitsandbytes 4-bit or 8-bit ones."""
    return [
        name
        for name, m in model.named_modules()
        if type(m).__name__ in ("Linear4bit", "Linear8bitLt")
    ]


def is_quantized(model: torch.nn.Module) -> bool:
    """True when some layer is already a bitsandbytes 4-bit or 8-bit one."""
    return bool(quantized_module_names(model))
