"""Pareto plots (matplotlib): the primary metric against peak memory and against step time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.status import Status


def pareto_front(points: pd.DataFrame, cost: str, value: str) -> pd.DataFrame:
    """Rows no other row beats on both lower `cost` and higher `value`."""
    ordered = points.sort_values([cost, value], ascending=[True, False])
    front, best = [], float("-inf")
    for row in ordered.itertuples():
        if getattr(row, value) > best:
            front.append(row.Index)
            best = getattr(row, value)
    return points.loc[front]


def pareto_plot(summary: pd.DataFrame, title: str, metric: str, path: Path) -> Path:
    """Two panels, metric vs peak memory (MiB) and vs step time (ms), front highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    for ax, cost, label in (
        (axes[0], "peak_mem_mib", "peak memory (MiB)"),
        (axes[1], "step_ms", "step time (ms, median)"),
    ):
        ax.errorbar(
            summary[cost],
            summary["metric_mean"],
            yerr=summary["metric_sd"].fillna(0),
            fmt="o",
            color="tab:blue",
            ecolor="lightgray",
            capsize=3,
        )
        for row in summary.itertuples():
            ax.annotate(
                row.method,
                (getattr(row, cost), row.metric_mean),
                fontsize=8,
                xytext=(4, 3),
                textcoords="offset points",
            )
        front = pareto_front(summary, cost, "metric_mean")
        ax.plot(
            front[cost], front["metric_mean"], "-", color="tab:red", alpha=0.6, label="Pareto front"
        )
        ax.set_xlabel(label)
        ax.set_ylabel(f"{metric} (mean over seeds, bars: sd)")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right")
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def method_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Per method of one task x model: metric mean and sd, median memory and step time."""
    ok = frame[frame["status"] == Status.OK]
    summary = (
        ok.groupby("method", sort=False)
        .agg(
            metric_mean=("metric", "mean"),
            metric_sd=("metric", "std"),
            peak_mem_mib=("peak_mem_mib", "median"),
            step_s=("step_time_s", "median"),
        )
        .reset_index()
    )
    summary["step_ms"] = summary["step_s"] * 1000
    return summary
