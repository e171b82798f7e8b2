"""Serving latency and throughput of several variants of a model, timed side by side:
interleaved rounds in one process, with the machine's load over the window."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from bench.meters.load import LoadMeter
from bench.meters.speed import synchronize

Call = Callable[[dict[str, torch.Tensor]], Any]


def module_call(model: nn.Module) -> Call:
    """A PyTorch model as a variant: eval mode, called on the batch's tensors."""
    model.eval()
    return lambda batch: model(**batch)


def _forward_s(call: Call, batch: dict[str, torch.Tensor], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    call(batch)
    synchronize(device)
    return time.perf_counter() - start


@torch.no_grad()
def time_variants(
    variants: dict[str, Call],
    single: dict[str, torch.Tensor],
    serving: dict[str, torch.Tensor],
    device: torch.device,
    rounds: int = 10,
    singles_per_round: int = 4,
    warmup: int = 2,
) -> dict[str, Any]:
    """Each variant's (a call on a batch) latency at batch 1 (median and p95 over every timed
    call, and each round's median) and throughput at the serving batch (examples per second
    over the median call). Variants take turns in every round, in an order rotated each round,
    each after one untimed call (the previous variant's serving batch leaves the caches cold):
    a slower moment of the machine falls on them all, and no variant is always first."""
    for call in variants.values():
        for _ in range(warmup):
            call(single)
            call(serving)
    names = list(variants)
    singles: dict[str, list[list[float]]] = {name: [] for name in names}
    batches: dict[str, list[float]] = {name: [] for name in names}
    meter = LoadMeter().start()
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            call = variants[name]
            call(single)  # untimed
            singles[name].append(
                [_forward_s(call, single, device) for _ in range(singles_per_round)]
            )
            batches[name].append(_forward_s(call, serving, device))
    load = meter.stop()
    size = int(serving["input_ids"].shape[0])
    out: dict[str, Any] = {}
    for name in names:
        every = [t for round_ in singles[name] for t in round_]
        out[name] = {
            "latency_b1_median_ms": 1e3 * statistics.median(every),
            "latency_b1_p95_ms": 1e3 * float(np.percentile(every, 95)),
            "rounds_b1_median_ms": [1e3 * statistics.median(r) for r in singles[name]],
            "serving_batch": size,
            "throughput_per_s": size / statistics.median(batches[name]),
            "calls": len(every) + len(batches[name]),
        }
    out["load"] = load.to_dict()
    return out
