"""Steady-state step timing: warm-up steps excluded, each step bounded by a device sync."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import torch


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class StepTimer:
    """Records (seconds, samples, real tokens, padded tokens) per optimiser step; summarises
    the steady ones. Padded tokens are what the GPU computes on; real ones what was learnt."""

    warmup_steps: int = 3
    times: list[float] = field(default_factory=list)
    samples: list[int] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    padded: list[int] = field(default_factory=list)

    def record(
        self, seconds: float, samples: int, tokens: int, padded_tokens: int | None = None
    ) -> None:
        self.times.append(seconds)
        self.samples.append(samples)
        self.tokens.append(tokens)
        self.padded.append(tokens if padded_tokens is None else padded_tokens)

    def summary(self) -> dict[str, float | int | None]:
        skip = self.warmup_steps if len(self.times) > self.warmup_steps else 0
        times = self.times[skip:]
        if not times:
            return {"steps": 0, "steady_steps": 0}
        elapsed = sum(times)
        return {
            "steps": len(self.times),
            "steady_steps": len(times),
            "warmup_steps_excluded": skip,
            "step_time_median_s": statistics.median(times),
            "step_time_mean_s": statistics.fmean(times),
            "step_time_sd_s": statistics.stdev(times) if len(times) > 1 else 0.0,
            "step_time_p10_s": _quantile(times, 0.1),
            "step_time_p90_s": _quantile(times, 0.9),
            "samples_per_s": sum(self.samples[skip:]) / elapsed,
            "tokens_per_s": sum(self.tokens[skip:]) / elapsed,
            "padded_tokens_per_s": sum(self.padded[skip:]) / elapsed,
            "tokens_total": sum(self.tokens),
            "padded_tokens_total": sum(self.padded),
            "first_step_s": self.times[0],
            "train_time_s": sum(self.times),
        }


def _quantile(values: list[float], q: float) -> float:
    return float(np.quantile(values, q))


class Stopwatch:
    """Wall time of a region, synchronised with the device at both ends."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.start = 0.0

    def __enter__(self) -> Stopwatch:
        synchronize(self.device)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        synchronize(self.device)
        self.seconds = time.perf_counter() - self.start
