"""Each method's key setting for a search (LoRA's rank, an adapter's reduction, a prompt's
length, sparse tuning's fraction) with the values a search tries, around the default."""

from __future__ import annotations

from typing import Any

_RANK = ("r", (4, 8, 16))
KEY_SETTINGS: dict[str, tuple[str, tuple[Any, ...]]] = {
    **{m: _RANK for m in ("lora", "dora", "rslora", "pissa", "olora", "lora_8bit", "qlora", "hra")},
    "loha": _RANK,
    "lokr": _RANK,
    "adalora": ("target_r", (4, 8, 12)),  # at most init_r (12)
    "vblora": ("r", (2, 4, 8)),
    "vera": ("r", (128, 256, 512)),
    "randlora": ("r", (16, 32, 64)),
    "houlsby": ("reduction_factor", (8, 16, 32)),
    "pfeiffer": ("reduction_factor", (8, 16, 32)),
    "prompt_tuning": ("virtual_tokens", (10, 20, 40)),
    "prefix_tuning": ("virtual_tokens", (10, 20, 40)),
    "p_tuning": ("virtual_tokens", (10, 20, 40)),
    "sparse": ("fraction", (0.002, 0.005, 0.01)),
    "fourierft": ("n_frequency", (500, 1000, 2000)),
    "freeze": ("layers", (1, 2, 4)),
    "oft": ("block_size", (16, 32, 64)),
    "boft": ("block_size", (2, 4, 8)),
}


def key_setting(method: str) -> tuple[str, tuple[Any, ...]] | None:
    """The setting a search varies besides the learning rate, and its values (None: the
    method has none worth searching: full, BitFit, LN tuning, IA3)."""
    return KEY_SETTINGS.get(method)
