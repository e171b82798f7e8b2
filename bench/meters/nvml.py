"""Thin access to NVML (nvidia-ml-py) that degrades to None where there is no NVIDIA driver:
the board of a CUDA device found by UUID, and this process's memory as the driver reports it."""

from __future__ import annotations

import os
from pathlib import Path
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
    """NVML numbers devices physically; a numeric CUDA_VISIBLE_DEVICES may renumber them."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible:
        parts = [p.strip() for p in visible.split(",") if p.strip()]
        if index < len(parts) and parts[index].isdigit():
            return int(parts[index])
    return index


def cuda_uuid(index: int) -> str | None:
    """The UUID of CUDA device `index` as NVML spells it (`GPU-...` / `MIG-...`), or None."""
    try:
        import torch

        uuid = str(torch.cuda.get_device_properties(index).uuid)
    except Exception:
        return None
    return uuid if uuid.startswith(("GPU-", "MIG-")) else f"GPU-{uuid}"


def handle_for_cuda(index: int) -> tuple[Any | None, str]:
    """The NVML handle of CUDA device `index` and how it was found: by its UUID (right under
    any CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER or MIG), else by index (labelled so)."""
    lib = nvml()
    if lib is None:
        return None, "n/a"
    uuid = cuda_uuid(index)
    if uuid is not None:
        try:
            return lib.nvmlDeviceGetHandleByUUID(uuid), "uuid"
        except Exception:
            pass
    handle = device_handle(cuda_index_to_nvml(index))
    return handle, "index" if handle is not None else "n/a"


def own_pids() -> set[int]:
    """This process's pid in every pid namespace this procfs shows (NSpid), so that a pid the
    driver reports from an outer namespace matches where one is visible."""
    pids = {os.getpid()}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("NSpid:"):
                pids.update(int(p) for p in line.split()[1:])
    except OSError:
        pass
    return pids


def pid_visible(pid: int) -> bool:
    """Whether `pid` is a process this namespace can see."""
    return Path(f"/proc/{pid}").exists()


def process_memory(processes: list[Any], pids: set[int]) -> tuple[int | None, str]:
    """This process's device memory from NVML's compute-process list. Inside a container the
    driver reports host pids, which match none of ours: then a sole process on the board that
    is not a process we can see is taken as ours (`nvml-sole-process`); otherwise None."""
    mine = [p for p in processes if p.pid in pids and p.usedGpuMemory is not None]
    if mine:
        return sum(int(p.usedGpuMemory) for p in mine), "nvml-process"
    others = [p for p in processes if p.usedGpuMemory is not None]
    if len(others) == 1 and not pid_visible(others[0].pid):
        return int(others[0].usedGpuMemory), "nvml-sole-process"
    return None, "n/a"
