"""Energy of a cell: NVML's energy counter on GPUs, RAPL on CPUs where readable, else n/a."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.meters.nvml import cuda_index_to_nvml, device_handle, nvml

RAPL = Path("/sys/class/powercap/intel-rapl:0")


class EnergyMeter:
    """Joules between start() and stop(); None (never 0) where no source can be read."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.source = "n/a"
        self._start: float | None = None
        self._handle = None
        if device.type == "cuda":
            self._handle = device_handle(cuda_index_to_nvml(device.index or 0))

    def _read(self) -> float | None:
        if self._handle is not None:
            try:
                millijoules = nvml().nvmlDeviceGetTotalEnergyConsumption(self._handle)
                self.source = "nvml-total-energy"
                return millijoules / 1000.0
            except Exception:
                return None
        if self.device.type == "cpu":
            try:
                self.source = "rapl-package-0"
                return int((RAPL / "energy_uj").read_text()) / 1e6
            except (OSError, ValueError):
                self.source = "n/a"
                return None
        return None

    def start(self) -> EnergyMeter:
        self._start = self._read()
        return self

    def stop(self) -> dict[str, Any]:
        end = self._read()
        if self._start is None or end is None:
            return {"energy_j": None, "energy_source": "n/a"}
        joules = end - self._start
        if joules < 0 and self.source.startswith("rapl"):
            joules += int((RAPL / "max_energy_range_uj").read_text()) / 1e6  # counter wrapped
        return {"energy_j": joules, "energy_source": self.source}
