"""The environment a cell ran in: library versions, hardware, git commit."""

from __future__ import annotations

import importlib.metadata as md
import platform
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import torch

from bench import CODE_VERSION
from bench.meters.nvml import nvml

LIBRARIES = ("torch", "transformers", "peft", "bitsandbytes", "tokenizers", "numpy", "scikit-learn")
REPO = Path(__file__).resolve().parents[2]


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


@cache
def git_commit() -> str | None:
    """HEAD of the checkout, with '-dirty' when tracked files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            # generated reports do not make the code dirty; anything else tracked does
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!reports"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=10,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: torch.device) -> dict[str, Any]:
    out: dict[str, Any] = {"cpu": cpu_name(), "cpu_threads": torch.get_num_threads()}
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        out.update(
            gpu=props.name,
            gpu_memory_bytes=props.total_memory,
            cuda=torch.version.cuda,
            capability=f"{props.major}.{props.minor}",
        )
        lib = nvml()
        if lib is not None:
            try:
                out["driver"] = lib.nvmlSystemGetDriverVersion()
            except Exception:
                pass
    return out


def environment(device: torch.device) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "hardware": hardware(device),
        "device": str(device),
        "git_commit": git_commit(),
        "code_version": CODE_VERSION,
    }
