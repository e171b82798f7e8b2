"""Which exceptions are an out-of-memory, whatever type carries them, and on which side."""

from __future__ import annotations

import torch

# Messages of device out-of-memory errors raised as plain RuntimeError (cuBLAS, cuDNN, NCCL,
# bitsandbytes' paged allocations, the CUDA runtime itself).
DEVICE_OOM_MARKERS = (
    "cuda out of memory",
    "cuda error: out of memory",
    "cublas_status_alloc_failed",
    "cudnn_status_alloc_failed",
    "cudaerrormemoryallocation",
    "failed to allocate",
    "out of memory",
)


def is_device_oom(exc: BaseException) -> bool:
    """A GPU out-of-memory: torch.OutOfMemoryError, or a RuntimeError that says so."""
    if isinstance(exc, torch.OutOfMemoryError):
        return True
    if isinstance(exc, RuntimeError):
        text = str(exc).lower()
        return any(marker in text for marker in DEVICE_OOM_MARKERS)
    return False


def is_host_oom(exc: BaseException) -> bool:
    """Host memory exhausted inside the process (a MemoryError; the kernel's OOM killer is
    seen by the runner as a killed worker instead)."""
    return isinstance(exc, MemoryError)
