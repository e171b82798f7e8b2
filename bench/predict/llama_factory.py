"""LLaMA-Factory's memory table, as a user would read it for a reference row: a catalogue of a
third party's figures by method (so it names methods)."""

from __future__ import annotations

# LLaMA-Factory README, "Hardware Requirement" (marked estimated; hiyouga/LLaMA-Factory at
# 00409ff28a30): GB per billion parameters of the base model, by method and bits.
LLAMA_FACTORY_URL = "https://github.com/hiyouga/LLaMA-Factory/blob/00409ff28a30f48d13b808029d37861423673a4a/README.md#hardware-requirement"
LLAMA_FACTORY_GB_PER_B = {
    ("full", "amp-bf16"): 18.0,  # Full (bf16 or fp16), 32 bits
    ("full", "amp-fp16"): 18.0,
    ("full", "bf16"): 8.0,  # Full (pure_bf16), 16 bits
    ("freeze", "bf16"): 2.0,  # Freeze / LoRA / GaLore / APOLLO / BAdam / OFT, 16 bits
    ("lora", "bf16"): 2.0,
    ("dora", "bf16"): 2.0,
    ("oft", "bf16"): 2.0,
    ("qlora", "bf16"): 0.5,  # QLoRA, 4 bits
}


def llama_factory_bytes(method: str, precision: str, total_params: int) -> int | None:
    """LLaMA-Factory's table for the method and bits (x GB per billion parameters, GB read as
    10^9 bytes), or None where its table has no row for the method."""
    per_billion = LLAMA_FACTORY_GB_PER_B.get((method, precision))
    if per_billion is None:
        return None
    return int(per_billion * total_params)
