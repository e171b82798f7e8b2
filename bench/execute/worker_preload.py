"""Imported once by the fork server that starts CPU workers, so that each cell's fresh process
begins with torch, transformers, peft and every method already imported (seconds, not tens).
Runs no torch op: an OpenMP pool created here would not survive the fork."""

import os

# torch.cuda.is_available() through NVML, without initialising CUDA, which a fork would break
os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")

from bench.core.quiet import quiet_libraries  # noqa: E402

quiet_libraries()  # before bench.cell.run imports bitsandbytes

import bench.cell.run  # noqa: E402, F401
from bench.core.plugins import load_builtin_plugins  # noqa: E402

load_builtin_plugins()
