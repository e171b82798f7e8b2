"""The machine's load during a timed window: the CPU time other processes used (all CPU
time the machine spent minus this process's and its children's, from psutil) and, on Linux,
the time the hypervisor stole. Torch on 2 cores slows several-fold under any competing load,
so a timing is marked contended when either was more than a small share of the window."""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from typing import Any

import psutil

# Shares of one core over the window above which a timing is contended.
OTHERS_LIMIT = 0.10
STEAL_LIMIT = 0.05


@dataclass(frozen=True)
class Load:
    """CPU seconds other processes used and stolen seconds, over a window of wall seconds."""

    window_s: float
    others_cpu_s: float
    steal_s: float
    cores: int

    @property
    def others_share(self) -> float:
        """Other processes' CPU time as a share of one core over the window."""
        return self.others_cpu_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def steal_share(self) -> float:
        return self.steal_s / self.window_s if self.window_s > 0 else 0.0

    @property
    def contended(self) -> bool:
        return self.others_share > OTHERS_LIMIT or self.steal_share > STEAL_LIMIT

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "contended": self.contended}


def _busy(times: Any) -> float:
    """All CPU time the machine spent working (idle and I/O wait and steal excluded)."""
    busy = times.user + times.system
    for name in ("nice", "irq", "softirq"):
        busy += getattr(times, name, 0.0)
    return busy


def _own(process: psutil.Process) -> float:
    cpu = process.cpu_times()
    return cpu.user + cpu.system + cpu.children_user + cpu.children_system


class LoadMeter:
    """`start()`, then `stop()` -> Load over the window between them."""

    def __init__(self) -> None:
        self._process = psutil.Process(os.getpid())

    def start(self) -> LoadMeter:
        self._t0 = time.perf_counter()
        machine = psutil.cpu_times()
        self._busy0, self._steal0 = _busy(machine), getattr(machine, "steal", 0.0)
        self._own0 = _own(self._process)
        return self

    def stop(self) -> Load:
        window = time.perf_counter() - self._t0
        machine = psutil.cpu_times()
        own = _own(self._process) - self._own0
        busy = _busy(machine) - self._busy0
        steal = getattr(machine, "steal", 0.0) - self._steal0
        return Load(
            window_s=window,
            others_cpu_s=max(0.0, busy - own),
            steal_s=max(0.0, steal),
            cores=psutil.cpu_count() or 1,
        )


def busy_processes(
    sample_s: float = 0.5, share: float = OTHERS_LIMIT
) -> list[tuple[int, str, float]]:
    """Other processes that used more than `share` of a core over a short sample, busiest
    first: (pid, name, share of a core). What a run on the CPU warns about before it starts."""
    me = os.getpid()
    watched = []
    for process in psutil.process_iter(["name"]):
        if process.pid == me:
            continue
        try:
            process.cpu_percent(None)  # the first call starts the process's sample
        except psutil.Error:
            continue
        watched.append(process)
    time.sleep(sample_s)
    found = []
    for process in watched:
        try:
            used = process.cpu_percent(None) / 100
        except psutil.Error:
            continue
        if used > share:
            found.append((process.pid, process.info.get("name") or "?", used))
    return sorted(found, key=lambda row: -row[2])
