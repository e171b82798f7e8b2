"""Thin access to NVML (nvidia-ml-py) that degrades to None where there is no NVIDIA driver."""

from __future__ import annotations

from typing import Any

_STATE: dict[str, Any] = {"ok": None}


def nvml() -> Any | None:
    """The initialised pynvml module, or None when NVML is unavailable."""
    if _STATE["ok"] is None:
        try:
            import pynvml

            pynvml.nvmlInit()
            _STATE["ok"], _STATE["module"] = True, pynvml
        except Exception:
            _STATE["ok"] = False
    return _STATE.get("module") if _STATE["ok"] else None


def device_handle(index: int) -> Any | None:
    lib = nvml()
    if lib is None:
        return None
    try:
        return lib.nvmlDeviceGetHandleByIndex(index)
    except Exception:
        return None


def cuda_index_to_nvml(index: int) -> int:
    """NVML numbers devices physically; CUDA_VISIBLE_DEVICES may renumber them."""
    import os

    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        parts = [p.strip() for p in visible.split(",") if p.strip()]
        if index < len(parts) and parts[index].isdigit():
            return int(parts[index])
    return index
