"""The tables `--gpu --dry-run`, `estimate` and `list gpus` print: the plan, its summary, the
plan as JSON, the GPU profiles."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.core.status import Verdict
from bench.hardware.gpus import GpuProfile
from bench.plan.placement import GIB, Placement
from bench.plan.planner import PlannedCell
from bench.predict.cell_time import cell_time, optimizer_steps, time_fields


def _gib(value: int | None) -> str:
    return f"{value / GIB:.1f}" if value is not None else "—"


def plan_frame(
    planned: Sequence[PlannedCell],
    statuses: dict[str, str | None],
    profile: GpuProfile | None = None,
) -> pd.DataFrame:
    """One row per cell: id, stored status, verdict, predicted peaks, step time, throughput
    and energy on `profile` (with the kept fit), and the label."""
    rows = []
    for p in planned:
        est = p.estimate
        timed = cell_time(est, p.spec, profile) if profile is not None else None
        rows.append(
            {
                "cell": p.spec.cell_id,
                "stored": statuses.get(p.spec.cell_id) or "-",
                "verdict": p.verdict,
                "NVML GiB": _gib(est.peak_device_bytes if est else None),
                "allocated GiB": _gib(est.peak_allocated_bytes if est else None),
                "step s": f"{timed.step_s:.3f}" if timed else "—",
                "tok/s": f"{timed.tokens_per_s:,.0f}" if timed else "—",
                "J/token": f"{timed.energy_j_per_token:.4f}" if timed else "—",
                "cell spec": p.spec.label() + (f" ({p.note})" if p.note else ""),
            }
        )
    return pd.DataFrame(rows)


def plan_totals(planned: Sequence[PlannedCell], profile: GpuProfile) -> str:
    """GPU-hours and kWh (at the board's power limit) of the cells that fit, from their
    predicted steps; cells whose step count is unknown until their data loads are counted."""
    seconds, unknown, timed = 0.0, 0, 0
    for p in planned:
        if p.verdict != Verdict.FITS:
            continue
        step = cell_time(p.estimate, p.spec, profile)
        steps = optimizer_steps(p.spec)
        if step is None or steps is None:
            unknown += 1
            continue
        seconds += step.step_s * steps
        timed += 1
    if not timed:
        return "no predicted time: run `python run_all.py predict --fit` to fit the time model"
    hours = seconds / 3600
    kwh = hours * profile.tdp_w / 1000
    tail = f"; {unknown} cells without a step count or estimate left out" if unknown else ""
    return (
        f"predicted training time of the {timed} cells that fit: {hours:.2f} GPU-hours, at most "
        f"{kwh:.2f} kWh (the board's {profile.tdp_w:.0f} W limit; evaluation not counted){tail}"
    )


def plan_summary(planned: Sequence[PlannedCell], placement: Placement, seconds: float) -> str:
    """`308 cells for GeForce RTX 4090 (24.0 GiB): 294 fits, 13 wont_fit, ...`."""
    counts = Counter(p.verdict for p in planned)
    order = [Verdict.FITS, Verdict.WONT_FIT] + sorted(
        set(counts) - {Verdict.FITS, Verdict.WONT_FIT}
    )
    where = (
        f"emulated on {placement.card}"
        if placement.emulate
        else (
            f"on {placement.card}"
            if placement.detected is not None
            else "(no GPU here: planned for that card)"
        )
    )
    return (
        f"{len(planned)} cells for {placement.profile.title} "
        f"({placement.profile.memory_bytes / GIB:.1f} GiB) {where}: "
        + ", ".join(f"{counts[v]} {v}" for v in order if counts[v])
        + f"; estimated in {seconds:.0f} s (the training step's peak, every sequence at "
        "max_length; fits = NVML peak within the card's memory)"
    )


def estimate_json(planned: Sequence[PlannedCell], profile: GpuProfile | None = None) -> str:
    """The plan as JSON: one object per cell with its spec, verdict, estimate and (with a
    profile and the kept fit) predicted step time, throughput, MFU and energy."""
    out: list[dict[str, Any]] = []
    for p in planned:
        out.append(
            {
                "cell_id": p.spec.cell_id,
                "spec": json.loads(p.spec.to_json()),
                **p.record(),
                **(time_fields(p.estimate, p.spec, profile) if profile is not None else {}),
            }
        )
    return json.dumps(out, indent=1)
