"""Pareto plots (matplotlib): the primary metric against peak memory and against step time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.core.status import Status
from bench.stats.collapse import with_failure_modes


def pareto_front(points: pd.DataFrame, cost: str, value: str) -> pd.DataFrame:
    """Rows no other row beats on both lower `cost` and higher `value`."""
    ordered = points.sort_values([cost, value], ascending=[True, False])
    front, best = [], float("-inf")
    for row in ordered.itertuples():
        if getattr(row, value) > best:
            front.append(row.Index)
            best = getattr(row, value)
    return points.loc[front]


def sound_front(summary: pd.DataFrame, cost: str) -> pd.DataFrame:
    """The Pareto front of the configurations without collapsed seeds: a collapse is a failure
    and never a trade-off."""
    return pareto_front(summary[summary["collapsed"] == 0], cost, "metric_mean")


def pareto_plot(summary: pd.DataFrame, title: str, metric: str, path: Path) -> Path:
    """Two panels, metric vs peak memory (MiB) and vs step time (ms), front highlighted; a
    configuration with collapsed seeds is a red cross, named with its count, off the front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 5), constrained_layout=True)
    failed = summary["collapsed"] > 0
    for ax, cost, label in (
        (axes[0], "peak_mem_mib", "peak memory (MiB)"),
        (axes[1], "step_ms", "step time (ms, median)"),
    ):
        sound = summary[~failed]
        ax.errorbar(
            sound[cost],
            sound["metric_mean"],
            yerr=sound["metric_sd"].fillna(0),
            fmt="o",
            color="tab:blue",
            ecolor="lightgray",
            capsize=3,
        )
        if failed.any():
            ax.plot(
                summary[failed][cost],
                summary[failed]["metric_mean"],
                "x",
                color="tab:red",
                markersize=9,
                label="collapsed seeds (not on the front)",
            )
        for row in summary.itertuples():
            name = (
                f"{row.method} ({row.collapsed}/{row.seeds} collapsed)"
                if row.collapsed
                else row.method
            )
            ax.annotate(
                name,
                (getattr(row, cost), row.metric_mean),
                fontsize=8,
                xytext=(4, 3),
                textcoords="offset points",
            )
        front = sound_front(summary, cost)
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
    """Per method of one task x model: metric mean and sd over the seeds that did not collapse
    (all seeds where every one did, as the tables do), the collapsed and total seeds, median
    memory and step time."""
    ok = with_failure_modes(frame[frame["status"] == Status.OK])
    rows = []
    for method, group in ok.groupby("method", sort=False):
        sound = group[~group["collapsed"]]
        scored = sound if len(sound) else group
        rows.append(
            {
                "method": method,
                "metric_mean": scored["metric"].mean(),
                "metric_sd": scored["metric"].std(),
                "collapsed": int(group["collapsed"].sum()),
                "seeds": len(group),
                "peak_mem_mib": group["peak_mem_mib"].median(),
                "step_s": group["step_time_s"].median(),
            }
        )
    summary = pd.DataFrame(rows)
    summary["step_ms"] = summary["step_s"] * 1000
    return summary
