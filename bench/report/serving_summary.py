"""The summary page's serving lines: what the serving cells of one suite page say, in brief."""

from __future__ import annotations

import statistics

import pandas as pd

from bench.report.labels import heading_anchor
from bench.report.serving_claims import serving_records
from bench.report.serving_table import latency_ratio

MB = 1e6


def _span(values: dict[str, float], spec: str) -> str:
    """The lowest and the highest value, each with its method."""
    low = min(values, key=values.__getitem__)
    high = max(values, key=values.__getitem__)
    return f"{format(values[low], spec)} (`{low}`) to {format(values[high], spec)} (`{high}`)"


def serving_lines(stem: str, frame: pd.DataFrame) -> list[str]:
    """One bullet per task and model whose cells measured serving (none when none did)."""
    out = []
    if "inference" not in frame:
        return out
    for (task, model), group in frame.groupby(["task", "model"], sort=False):
        records = {
            method: serving_records(cells) for method, cells in group.groupby("method", sort=False)
        }
        records = {m: r for m, r in records.items() if r}
        if not records:
            continue
        shipped = {
            m: statistics.median(x["shipped"]["bytes"] for x in r) / MB for m, r in records.items()
        }
        slower = {
            m: 1 / ratio
            for m, r in records.items()
            if (ratio := latency_ratio([x["latency"] for x in r], "trained"))
        }
        kept = sorted(
            m
            for m, r in records.items()
            if all(x["merge"].get("merged") and x["merge"]["flipped"] == 0 for x in r)
        )
        onnx = {
            m: ratio
            for m, r in records.items()
            if (ratio := latency_ratio([x["latency"] for x in r], "onnx", "served"))
        }
        title = f"{task} on {model}"
        line = (
            f"- [{title}]({stem}.md#{heading_anchor(title)}): what ships per task, "
            f"{_span(shipped, '.2f')} MB; merging kept every test prediction for "
            f"{', '.join(f'`{m}`' for m in kept) or 'none'}; unmerged batch-1 latency "
            f"{_span(slower, '.2f')} x the base's (timed side by side; the page gives each "
            "round's spread, which for methods that add no compute shows the noise)"
        )
        if onnx:
            line += (
                f"; ONNX Runtime x{min(onnx.values()):.1f}-{max(onnx.values()):.1f} over PyTorch"
            )
        out.append(line + ".")
    return out
