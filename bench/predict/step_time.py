"""Step time, throughput, MFU and energy of a traced training step on a card: a roofline over
the step's op bins (bench.plan.op_costs), each bin taking the longer of its FLOPs at the
card's dense peak and its bytes at the card's memory bandwidth, each times an efficiency per op
class, plus a fixed cost per kernel launch."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.hardware.gpus import GpuProfile
from bench.plan.op_costs import Table, klass_of

COMPUTE_DTYPE = {"bf16": "bf16", "amp-bf16": "bf16", "amp-fp16": "fp16", "fp32": "fp32"}
LAUNCH_S = 5e-6  # per kernel in eager PyTorch (launch and dispatch); fixed, not fitted
FITTED = Path(__file__).with_name("efficiency.json")  # written by `predict --fit`


@dataclass(frozen=True)
class Efficiency:
    """Shares of the card's peaks that each op class reaches; `launch_s`: the least time a
    kernel takes (launch and dispatch), the floor of a bin of many small ops."""

    matmul: float  # of the dense tensor-core peak, for GEMMs and attention
    memory: float  # of the memory bandwidth, for everything's bytes
    launch_s: float = LAUNCH_S

    def to_dict(self) -> dict[str, float]:
        return {"matmul": self.matmul, "memory": self.memory, "launch_s": self.launch_s}


@dataclass(frozen=True)
class StepTime:
    step_s: float
    tokens_per_s: float
    mfu: float  # model FLOPs (recomputation left out) over step time x dense peak
    energy_j_per_token: float  # at the board's power limit: an upper bound
    by_class: dict[str, float]  # seconds per op class


def peak_flops(profile: GpuProfile, precision: str) -> float:
    dtype = COMPUTE_DTYPE[precision]
    peak = profile.peak_tflops(dtype)
    if peak is None:  # no bf16 tensor cores (T4): bf16 runs at the fp32 rate
        peak = profile.fp32_tflops
    return peak * 1e12


def step_time(
    costs: Table,
    profile: GpuProfile,
    precision: str,
    tokens: int,
    efficiency: Efficiency,
    checkpointing: bool = False,
) -> StepTime:
    """The predicted step for `tokens` tokens per optimizer step."""
    peak = peak_flops(profile, precision)
    bandwidth = profile.bandwidth_gbs * 1e9
    by_class: dict[str, float] = {}
    flops_total = forward_flops = 0.0
    for phase, entries in costs.items():
        for key, (flops, moved, ops) in entries.items():
            klass = klass_of(key)
            compute = flops / (peak * efficiency.matmul) if flops else 0.0
            traffic = moved / (bandwidth * efficiency.memory)
            seconds = max(compute, traffic, ops * efficiency.launch_s)
            by_class[klass] = by_class.get(klass, 0.0) + seconds
            flops_total += flops
            if phase == "forward":
                forward_flops += flops
    step_s = sum(by_class.values())
    model_flops = flops_total - (forward_flops if checkpointing else 0.0)  # recomputed forward
    return StepTime(
        step_s=step_s,
        tokens_per_s=tokens / step_s,
        mfu=model_flops / (step_s * peak),
        energy_j_per_token=profile.tdp_w * step_s / tokens,
        by_class=by_class,
    )


@dataclass(frozen=True)
class TimedRow:
    """What a fit needs of one reference: its step's costs and the measured throughput."""

    costs: Table
    profile: GpuProfile
    precision: str
    tokens: int
    checkpointing: bool
    measured_tokens_per_s: float


def fit_efficiency(rows: Sequence[TimedRow]) -> Efficiency:
    """The matmul and memory efficiencies that minimise the squared log error of the rows'
    throughput (scipy's bounded L-BFGS); the launch cost stays fixed."""
    from scipy.optimize import minimize

    if not rows:
        raise ValueError("fitting needs at least one reference row with a measured throughput")

    def loss(x: Sequence[float]) -> float:
        eff = Efficiency(float(x[0]), float(x[1]))
        total = 0.0
        for row in rows:
            pred = step_time(
                row.costs, row.profile, row.precision, row.tokens, eff, row.checkpointing
            )
            total += math.log(pred.tokens_per_s / row.measured_tokens_per_s) ** 2
        return total

    best = minimize(loss, x0=[0.5, 0.5], bounds=[(0.02, 1.0), (0.02, 1.0)], method="L-BFGS-B")
    return Efficiency(float(best.x[0]), float(best.x[1]))


def save_efficiency(efficiency: Efficiency, fitted_on: Sequence[str], command: str) -> Path:
    """Keep a fit for `estimate` and the plans, with the rows and the command that made it."""
    payload = {**efficiency.to_dict(), "fitted_on": list(fitted_on), "command": command}
    FITTED.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return FITTED


def load_efficiency() -> tuple[Efficiency, dict] | None:
    """The kept fit and its provenance, or None when `predict --fit` has not been run; read
    once per version of the file (a plan asks for it once per cell)."""
    if not FITTED.exists():
        return None
    return _read_fit(str(FITTED), FITTED.stat().st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_fit(path: str, mtime_ns: int) -> tuple[Efficiency, dict]:
    data = json.loads(Path(path).read_text())
    return Efficiency(data["matmul"], data["memory"], data["launch_s"]), data
