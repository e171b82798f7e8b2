"""QLoRA (Dettmers et al., 2023) and 8-bit LoRA: LoRA through peft on a bitsandbytes base."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bench.core.method_api import MethodContext
from bench.core.registry import register_method
from bench.core.settings import BOOL, one_of
from methods.lora import LORA_DEFAULTS, LORA_RULES, LORA_SEARCH, lora_on

if TYPE_CHECKING:  # torch loads where a model is built, not where the catalogue is listed
    from torch import nn

    from bench.models.load_target import Quantization

COMPUTE_DTYPE = one_of("auto", "bf16", "fp16", "fp32")


def _quantized_lora(
    model: nn.Module, settings: dict, ctx: MethodContext, bits: int, **quant: object
) -> nn.Module:
    from peft import prepare_model_for_kbit_training

    from bench.models.load_target import is_quantized, quantized_module_names
    from bench.models.quantize import compute_dtype_for, quantize_linears

    dtype = compute_dtype_for(settings["compute_dtype"], ctx.device)
    if is_quantized(model):  # pretrained weights quantised at load (BitsAndBytesConfig)
        ctx.info["quantized_at"] = "load"
        ctx.info["quantized_modules"] = quantized_module_names(model)
    else:  # quantised here, layer by layer onto the device
        ctx.info["quantized_at"] = "method"
        ctx.info["quantized_modules"] = quantize_linears(
            model, bits=bits, device=ctx.device, skip=ctx.head_names, compute_dtype=dtype, **quant
        )
    model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    lora_settings = {k: settings[k] for k in LORA_DEFAULTS}
    return lora_on(model, lora_settings, ctx)


def _nf4_base(settings: dict, device: str) -> Quantization:
    from bench.models.load_target import Quantization
    from bench.models.quantize import compute_dtype_for

    return Quantization(
        4,
        settings["quant_type"],
        bool(settings["double_quant"]),
        compute_dtype_for(settings["compute_dtype"], device),
    )


def _int8_base(settings: dict, device: str) -> Quantization:
    from bench.models.load_target import Quantization
    from bench.models.quantize import compute_dtype_for

    return Quantization(8, compute_dtype=compute_dtype_for(settings["compute_dtype"], device))


@register_method(
    "qlora",
    family="quantized",
    lr=3e-3,
    needs_quantized_base=True,
    base_quantization=_nf4_base,
    quantized_bits=4,
    defaults={**LORA_DEFAULTS, "quant_type": "nf4", "double_quant": True, "compute_dtype": "auto"},
    rules={
        **LORA_RULES,
        "quant_type": one_of("nf4", "fp4"),
        "double_quant": BOOL,
        "compute_dtype": COMPUTE_DTYPE,
    },
    search=LORA_SEARCH,
    meta_method="lora",
    base_when_disabled=True,  # the quantised base it trains on, as trl's reference for QLoRA
)
def qlora(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """LoRA on a frozen 4-bit (NF4 or FP4, double-quantised) base; bf16 compute on GPU."""
    return _quantized_lora(
        model,
        settings,
        ctx,
        4,
        quant_type=settings["quant_type"],
        double_quant=bool(settings["double_quant"]),
    )


@register_method(
    "lora_8bit",
    family="quantized",
    lr=3e-3,
    needs_quantized_base=True,
    base_quantization=_int8_base,
    quantized_bits=8,
    defaults={**LORA_DEFAULTS, "compute_dtype": "auto"},
    rules={**LORA_RULES, "compute_dtype": COMPUTE_DTYPE},
    search=LORA_SEARCH,
    meta_method="lora",
    base_when_disabled=True,  # the quantised base it trains on, as trl's reference for QLoRA
)
def lora_8bit(model: nn.Module, settings: dict, ctx: MethodContext) -> nn.Module:
    """LoRA on a frozen LLM.int8 base (bitsandbytes Linear8bitLt)."""
    return _quantized_lora(model, settings, ctx, 8)
