"""Energy of the training window: NVML's energy counter on GPUs, RAPL on CPUs where readable.

Measured like Zeus's `begin_window` / `end_window`: the device is synchronised at both ends so
the window holds exactly the work queued inside it. A window in which the counter did not move,
or shorter than its update period, is flagged and reports None, never 0.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import torch

from bench.meters.nvml import handle_for_cuda, nvml

RAPL = Path("/sys/class/powercap/intel-rapl:0")
# NVML refreshes the energy counter about every 10-100 ms depending on the board; a shorter
# window can read no change or one refresh's worth of a long interval.
MIN_WINDOW_S = 0.1


class EnergyMeter:
    """Joules between start() and stop(); with steps and tokens, J per step, J per token and
    mean power. None (with a flag saying why) where nothing trustworthy can be read."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.source = "n/a"
        self._start: float | None = None
        self._t0 = 0.0
        self._handle = None
        if device.type == "cuda":
            self._handle, _ = handle_for_cuda(device.index or 0)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

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
        self._sync()
        self._start = self._read()
        self._t0 = time.perf_counter()
        return self

    def stop(self, steps: int | None = None, tokens: int | None = None) -> dict[str, Any]:
        self._sync()
        end = self._read()
        window_s = time.perf_counter() - self._t0
        out: dict[str, Any] = {
            "energy_j": None,
            "energy_source": "n/a",
            "energy_window_s": window_s,
            "energy_per_step_j": None,
            "energy_per_token_j": None,
            "mean_power_w": None,
            "energy_flag": None,
        }
        if self._start is None or end is None:
            out["energy_flag"] = "no energy counter readable on this device"
            return out
        joules = end - self._start
        if joules < 0 and self.source.startswith("rapl"):
            joules += int((RAPL / "max_energy_range_uj").read_text()) / 1e6  # counter wrapped
        out["energy_source"] = self.source
        if joules <= 0 or window_s < MIN_WINDOW_S:
            out["energy_flag"] = (
                f"window of {window_s * 1000:.0f} ms is shorter than the counter's update "
                f"period (or the counter did not move): not reported"
            )
            return out
        out.update(
            energy_j=joules,
            mean_power_w=joules / window_s,
            energy_per_step_j=joules / steps if steps else None,
            energy_per_token_j=joules / tokens if tokens else None,
        )
        return out
