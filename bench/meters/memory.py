"""Peak memory of a cell: NVML (process or device used minus baseline), allocator, CPU RSS."""

from __future__ import annotations

import os
import resource
import sys
import threading
from typing import Any

import psutil
import torch

from bench.meters.nvml import cuda_index_to_nvml, device_handle, nvml


class PeakMemory:
    """Samples memory on a thread while the cell runs; `summary()` gives the peaks in bytes."""

    def __init__(self, device: torch.device, interval_s: float = 0.02) -> None:
        self.device = device
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._process = psutil.Process(os.getpid())
        self.rss_baseline = 0
        self.rss_peak = 0
        self.nvml_baseline: int | None = None
        self.nvml_peak: int | None = None
        self.nvml_source = "n/a"
        self._handle = None
        if device.type == "cuda":
            self._handle = device_handle(cuda_index_to_nvml(device.index or 0))

    def _nvml_reading(self) -> tuple[int | None, str]:
        lib = nvml()
        if lib is None or self._handle is None:
            return None, "n/a"
        try:
            for proc in lib.nvmlDeviceGetComputeRunningProcesses(self._handle):
                if proc.pid == os.getpid() and proc.usedGpuMemory is not None:
                    return int(proc.usedGpuMemory), "nvml-process"
        except Exception:
            pass
        used = int(lib.nvmlDeviceGetMemoryInfo(self._handle).used)
        return used - (self.nvml_baseline or 0), "nvml-device-minus-baseline"

    def _sample(self) -> None:
        self.rss_peak = max(self.rss_peak, self._process.memory_info().rss)
        if self._handle is not None:
            value, source = self._nvml_reading()
            if value is not None and (self.nvml_peak is None or value > self.nvml_peak):
                self.nvml_peak, self.nvml_source = value, source

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self) -> PeakMemory:
        self.rss_baseline = self._process.memory_info().rss
        if self._handle is not None:
            lib = nvml()
            self.nvml_baseline = int(lib.nvmlDeviceGetMemoryInfo(self._handle).used)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._sample()
        self._thread = threading.Thread(target=self._loop, name="ftbench-memory", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
        return self.summary()

    def summary(self) -> dict[str, Any]:
        # ru_maxrss is the process's lifetime peak (KiB on Linux): exact, since a cell owns its
        # worker process, and it catches spikes shorter than the sampling interval.
        scale = 1 if sys.platform == "darwin" else 1024
        rss_peak = max(self.rss_peak, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale)
        out: dict[str, Any] = {
            "rss_peak_bytes": rss_peak,
            "rss_baseline_bytes": self.rss_baseline,
            "rss_delta_bytes": rss_peak - self.rss_baseline,
        }
        if self.device.type == "cuda":
            out.update(
                torch_max_allocated_bytes=torch.cuda.max_memory_allocated(self.device),
                torch_max_reserved_bytes=torch.cuda.max_memory_reserved(self.device),
                nvml_peak_bytes=self.nvml_peak,
                nvml_source=self.nvml_source,
            )
        return out
