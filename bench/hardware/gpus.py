"""GPU profiles (memory, dense peak rates, bandwidth, power) and detection of the card present.

Peak rates are dense (no 2:4 sparsity) tensor-core figures from NVIDIA's data sheets; memory
is what NVML reports as total for the card (nvidia-smi's MiB), the limit a cell must fit in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bench.core.registry import Registry

# A lead, not a measurement: to be calibrated against NVML on a GPU (the measured-GPU issue).
CUDA_CONTEXT_BYTES = 600 * 1024 * 1024  # CUDA 12-13 context with cuBLAS workspaces

MIB = 1024 * 1024


@dataclass(frozen=True)
class GpuProfile:
    """One card. TFLOP/s are dense peaks: bf16 / fp16 with fp32 accumulate, tf32, plain fp32."""

    name: str
    title: str
    memory_bytes: int
    bf16_tflops: float | None
    fp16_tflops: float
    tf32_tflops: float | None
    fp32_tflops: float
    bandwidth_gbs: float
    tdp_w: float
    pattern: str  # matches the NVML / torch device name
    source: str
    aliases: tuple[str, ...] = ()

    @property
    def bf16(self) -> bool:
        return self.bf16_tflops is not None

    def peak_tflops(self, dtype: str) -> float | None:
        """The dense peak for a compute dtype: bf16, fp16, tf32 or fp32."""
        return {
            "bf16": self.bf16_tflops,
            "fp16": self.fp16_tflops,
            "tf32": self.tf32_tflops,
            "fp32": self.fp32_tflops,
        }[dtype]


GPUS: Registry[GpuProfile] = Registry("GPU profile")
_ALIASES: dict[str, str] = {}


def _add(profile: GpuProfile) -> None:
    GPUS.add(profile.name, profile)
    for alias in profile.aliases:
        _ALIASES[alias.casefold()] = profile.name


# Sources (dense = half the 2:4-sparsity figures printed beside them):
ADA = "NVIDIA Ada Lovelace GPU architecture whitepaper, appendix A (GeForce RTX 4090 / 4080)"
AMPERE_GA102 = "NVIDIA Ampere GA102 GPU architecture whitepaper, appendix A (RTX 3090)"
RTX_A6000 = (
    "NVIDIA RTX A6000 data sheet (fp16 / bf16 tensor cores at full rate with fp32 accumulate)"
)
A100 = "NVIDIA A100 Tensor Core GPU data sheet (SXM4)"
H100 = "NVIDIA H100 Tensor Core GPU data sheet (SXM5 / PCIe columns)"
H200 = "NVIDIA H200 Tensor Core GPU data sheet (SXM)"
L4 = "NVIDIA L4 Tensor Core GPU data sheet"
L40S = "NVIDIA L40S GPU data sheet"
T4 = "NVIDIA T4 Tensor Core GPU data sheet (mixed-precision tensor cores; no bf16)"

# name, title, memory MiB (NVML total), bf16, fp16, tf32, fp32 TFLOP/s, GB/s, TDP W, name
# pattern, source, aliases
PROFILE_ROWS: tuple[tuple[Any, ...], ...] = (
    (
        "rtx-4090",
        "GeForce RTX 4090",
        24564,
        165.2,
        165.2,
        82.6,
        82.6,
        1008,
        450,
        r"RTX 4090(?! D)",
        ADA,
        ("4090",),
    ),
    (
        "rtx-4080",
        "GeForce RTX 4080",
        16376,
        97.5,
        97.5,
        48.7,
        48.7,
        716.8,
        320,
        r"RTX 4080(?! SUPER)",
        ADA,
        ("4080",),
    ),
    (
        "rtx-3090",
        "GeForce RTX 3090",
        24576,
        71.0,
        71.0,
        35.6,
        35.6,
        936,
        350,
        r"RTX 3090(?! Ti)",
        AMPERE_GA102,
        ("3090",),
    ),
    (
        "rtx-a6000",
        "RTX A6000 48 GB",
        49140,
        154.8,
        154.8,
        77.4,
        38.7,
        768,
        300,
        r"RTX A6000",
        RTX_A6000,
        ("a6000",),
    ),
    (
        "a100-40gb",
        "A100 SXM4 40 GB",
        40960,
        312,
        312,
        156,
        19.5,
        1555,
        400,
        r"A100.*40GB",
        A100,
        ("a100-40",),
    ),
    (
        "a100-80gb",
        "A100 SXM4 80 GB",
        81920,
        312,
        312,
        156,
        19.5,
        2039,
        400,
        r"A100.*80GB",
        A100,
        ("a100", "a100-80"),
    ),
    (
        "h100-sxm",
        "H100 SXM5 80 GB",
        81559,
        989.4,
        989.4,
        494.7,
        66.9,
        3350,
        700,
        r"H100(?!.*PCIe)(?!.*NVL)",
        H100,
        ("h100", "h100-80gb"),
    ),
    (
        "h100-pcie",
        "H100 PCIe 80 GB",
        81559,
        756.5,
        756.5,
        378,
        51.2,
        2000,
        350,
        r"H100.*PCIe",
        H100,
        (),
    ),
    ("h200", "H200 SXM 141 GB", 143771, 989.4, 989.4, 494.7, 66.9, 4800, 700, r"H200", H200, ()),
    ("l4", "L4 24 GB", 23034, 121, 121, 60, 30.3, 300, 72, r"\bL4\b", L4, ()),
    ("l40s", "L40S 48 GB", 46068, 362.05, 362.05, 183, 91.6, 864, 350, r"L40S", L40S, ()),
    ("t4", "Tesla T4 16 GB", 15360, None, 65, None, 8.1, 320, 70, r"\bT4\b", T4, ()),
)
for _row in PROFILE_ROWS:
    _add(GpuProfile(*_row[:2], _row[2] * MIB, *_row[3:]))


def get_gpu(name: str) -> GpuProfile:
    """A profile by name or alias, ignoring case: `4090`, `RTX-4090`, `h100`."""
    key = name.casefold().removeprefix("rtx-").removeprefix("rtx ")
    key = _ALIASES.get(key, _ALIASES.get(name.casefold(), name))
    return GPUS.get(key)


def profile_for_device_name(device_name: str) -> GpuProfile | None:
    """The profile whose pattern matches an NVML or torch device name, if any."""
    for _, profile in GPUS.items():
        if re.search(profile.pattern, device_name, flags=re.IGNORECASE):
            return profile
    return None


@dataclass(frozen=True)
class DetectedGpu:
    """A card found through NVML: its name, total memory, UUID and matching profile."""

    index: int
    name: str
    memory_bytes: int
    uuid: str
    profile: GpuProfile | None


def detect_gpus(nvml_module: Any | None = None) -> list[DetectedGpu]:
    """Every NVIDIA card NVML sees (none without a driver); `nvml_module` for tests."""
    if nvml_module is None:
        from bench.meters.nvml import nvml

        nvml_module = nvml()
    if nvml_module is None:
        return []
    found = []
    for index in range(nvml_module.nvmlDeviceGetCount()):
        handle = nvml_module.nvmlDeviceGetHandleByIndex(index)
        name = nvml_module.nvmlDeviceGetName(handle)
        name = name.decode() if isinstance(name, bytes) else str(name)
        uuid = nvml_module.nvmlDeviceGetUUID(handle)
        uuid = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
        memory = int(nvml_module.nvmlDeviceGetMemoryInfo(handle).total)
        found.append(DetectedGpu(index, name, memory, uuid, profile_for_device_name(name)))
    return found


def emulation_fraction(profile_bytes: int, card_bytes: int, context_bytes: int) -> float:
    """The share of a bigger card's memory the allocator may use so that the process sees
    a `profile_bytes` card: the profile's total less the CUDA context the allocator does not
    count."""
    if profile_bytes > card_bytes:
        raise ValueError(
            f"cannot emulate a {profile_bytes / 2**30:.1f} GiB card on a "
            f"{card_bytes / 2**30:.1f} GiB one"
        )
    return max(profile_bytes - context_bytes, 0) / card_bytes
