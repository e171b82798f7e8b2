"""Peak memory of a cell per window (load, train, evaluate): allocator peaks reset at each
boundary, the NVML peak sampled on a thread, and the host's RSS over the whole cell."""

from __future__ import annotations

import gc
import os
import resource
import sys
import threading
from typing import Any

import psutil
import torch

from bench.meters.nvml import handle_for_cuda, nvml, own_pids, process_memory

WINDOWS = ("load", "train", "evaluate")
REPORTED_WINDOW = "train"  # the top-level figures: what a training step needs


class PeakMemory:
    """`start("load")`, `boundary("train")`, `boundary("evaluate")`, `stop()`: peaks in bytes
    for each window, and at the top level the training window's (or the last one's)."""

    def __init__(self, device: torch.device, interval_s: float = 0.02) -> None:
        self.device = device
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._process = psutil.Process(os.getpid())
        self._pids = own_pids()
        self.rss_baseline = 0
        self.rss_peak = 0
        self.nvml_baseline: int | None = None
        self.nvml_source = "n/a"
        self.nvml_device_by = "n/a"
        self.window: str | None = None
        self._window_nvml_peak: int | None = None
        self.windows: dict[str, dict[str, Any]] = {}
        self._handle = None
        if device.type == "cuda":
            self._handle, self.nvml_device_by = handle_for_cuda(device.index or 0)

    def _nvml_reading(self) -> tuple[int | None, str]:
        lib = nvml()
        if lib is None or self._handle is None:
            return None, "n/a"
        try:
            value, source = process_memory(
                list(lib.nvmlDeviceGetComputeRunningProcesses(self._handle)), self._pids
            )
            if value is not None:
                return value, source
        except Exception:
            pass
        used = int(lib.nvmlDeviceGetMemoryInfo(self._handle).used)
        return used - (self.nvml_baseline or 0), "nvml-device-minus-baseline"

    def _sample(self) -> None:
        rss = self._process.memory_info().rss
        value, source = self._nvml_reading() if self._handle is not None else (None, "n/a")
        with self._lock:
            self.rss_peak = max(self.rss_peak, rss)
            if value is not None:
                self.nvml_source = source
                if self._window_nvml_peak is None or value > self._window_nvml_peak:
                    self._window_nvml_peak = value

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def start(self, window: str = "load") -> PeakMemory:
        self.rss_baseline = self._process.memory_info().rss
        if self._handle is not None:
            self.nvml_baseline = int(nvml().nvmlDeviceGetMemoryInfo(self._handle).used)
        self._open(window)
        if self._handle is not None:  # NVML needs sampling; the host's peak is ru_maxrss
            self._thread = threading.Thread(target=self._loop, name="ftbench-memory", daemon=True)
            self._thread.start()
        return self

    def _open(self, window: str) -> None:
        if self.device.type == "cuda":
            # cached blocks the last window freed go back to the driver, so that NVML's
            # figure for this window is not the last one's (a quantised load's copies)
            gc.collect()
            torch.cuda.synchronize(self.device)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)
        with self._lock:
            self.window, self._window_nvml_peak = window, None
        self._sample()

    def _close(self) -> None:
        if self.window is None:
            return
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self._sample()
        out: dict[str, Any] = {}
        if self.device.type == "cuda":
            out["torch_max_allocated_bytes"] = torch.cuda.max_memory_allocated(self.device)
            out["torch_max_reserved_bytes"] = torch.cuda.max_memory_reserved(self.device)
            out["nvml_peak_bytes"] = self._window_nvml_peak
        with self._lock:
            self.windows[self.window] = out
            self.window = None

    def boundary(self, window: str) -> None:
        """Close the current window and open `window`."""
        self._close()
        self._open(window)

    def stop(self) -> dict[str, Any]:
        self._close()
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
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
            name = REPORTED_WINDOW if REPORTED_WINDOW in self.windows else None
            name = name or (list(self.windows)[-1] if self.windows else None)
            out.update(self.windows.get(name, {}) if name else {})
            out.update(
                window=name,
                windows=self.windows,
                nvml_source=self.nvml_source,
                nvml_device_by=self.nvml_device_by,
            )
        return out
