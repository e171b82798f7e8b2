"""The estimate against the measurement, per cell and in summary, for cells planned for a GPU."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.report.labels import method_label

GIB = 2**30


def _error(estimated: float | None, measured: float | None) -> float | None:
    if estimated is None or not measured:
        return None
    return (estimated - measured) / measured


def estimate_rows(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per cell that stores an estimate: predicted and measured peaks, and the errors."""
    rows = []
    for rec in records:
        est = (rec["result"] or {}).get("estimate")
        if not est or "peak_allocated_bytes" not in est:
            continue
        memory = (rec["result"] or {}).get("memory") or {}
        speed = (rec["result"] or {}).get("speed") or {}
        measured_step = speed.get("step_time_median_s")
        spec = rec["spec"]
        measured_alloc = memory.get("torch_max_allocated_bytes")
        measured_device = memory.get("nvml_peak_bytes")
        rows.append(
            {
                "model": spec.model,
                "method": method_label(spec),
                "status": rec["status"],
                "est_alloc": est["peak_allocated_bytes"],
                "alloc": measured_alloc,
                "alloc_error": _error(est["peak_allocated_bytes"], measured_alloc),
                "est_device": est["peak_device_bytes"],
                "device": measured_device,
                "device_error": _error(est["peak_device_bytes"], measured_device),
                "est_step": est.get("predicted_step_s"),
                "step": measured_step,
                "step_error": _error(est.get("predicted_step_s"), measured_step),
                "verdict": est.get("verdict", "-"),
            }
        )
    return rows


def _gib(value: float | None) -> str:
    return f"{value / GIB:.2f}" if value is not None else "—"


def _seconds(value: float | None) -> str:
    return f"{value:.3f}" if value is not None else "—"


def _pct(value: float | None) -> str:
    return f"{value:+.1%}" if value is not None else "—"


def estimate_section(records: Sequence[dict[str, Any]]) -> list[str]:
    """Markdown lines: the per-cell table and a summary line; none if no cell has an estimate."""
    rows = estimate_rows(records)
    if not rows:
        return []
    table = pd.DataFrame(
        [
            {
                "model": r["model"],
                "method": r["method"],
                "status": r["status"],
                "verdict": r["verdict"],
                "estimated allocated GiB": _gib(r["est_alloc"]),
                "measured allocated GiB": _gib(r["alloc"]),
                "error": _pct(r["alloc_error"]),
                "estimated NVML GiB": _gib(r["est_device"]),
                "measured NVML GiB": _gib(r["device"]),
                "NVML error": _pct(r["device_error"]),
                "predicted step s": _seconds(r["est_step"]),
                "measured step s": _seconds(r["step"]),
                "step error": _pct(r["step_error"]),
            }
            for r in rows
        ]
    )
    errors = [abs(r["alloc_error"]) for r in rows if r["alloc_error"] is not None]
    if errors:
        within = sum(e <= 0.10 for e in errors)
        summary = (
            f"Allocator peak, estimate against measurement over {len(errors)} measured cells: "
            f"mean |error| {sum(errors) / len(errors):.1%}, largest {max(errors):.1%}, "
            f"{within} within 10%."
        )
    else:
        summary = "No cell with an estimate has a measured allocator peak yet (none ran on a GPU)."
    steps = [abs(r["step_error"]) for r in rows if r["step_error"] is not None]
    if steps:
        summary += (
            f" Step time, predicted against measured over {len(steps)} cells: median |error| "
            f"{statistics.median(steps):.1%}, largest {max(steps):.1%}."
        )
    return [
        "### Estimated against measured peak memory",
        "",
        "The estimate (`python run_all.py estimate`) predicts the training step's peak before "
        "the cell runs, every sequence at max_length; the measurement is "
        "torch.cuda.max_memory_allocated and the NVML peak of the cell. The predicted step time "
        "is the roofline of the same traced step with the fit kept when the plan was made "
        "(`python run_all.py predict --fit`), at max_length (an upper bound for a task whose "
        "sequences are shorter); the measured one is the cell's median steady-state step. "
        "Cells predicted not to fit were stored as `wont_fit` and not run (`--force` runs them).",
        "",
        table.to_markdown(index=False, disable_numparse=True),
        "",
        summary,
        "",
    ]
