"""One adapter shared by a mixture of tasks against one adapter per task: each component's
test rows of the shared cells against that task's own cells of the same configuration, tested
at the method level per task (Holm over the components), and the parameters each way ships."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd

from bench.core.registry import TASKS
from bench.evaluate.metrics import METRICS, PER_EXAMPLE
from bench.report.labels import heading_anchor
from bench.stats import paired as stats
from bench.stats.collapse import with_failure_modes
from bench.stats.configurations import configuration_key
from bench.stats.method_level import MethodDifference, method_difference, method_difference_metric
from bench.store.cell_store import Store

HEADING = "Multi-task: one shared adapter against one per task"
NOTE = (
    "Shared against one per task: the shared cells train one method (and a head per task: "
    "each example is scored over its own task's labels only, in the loss and in prediction) on "
    "the mixture, drawing every task equally often, for as many examples as the per-task cells "
    "see together; each per-task cell is the same configuration (method, settings, budget, "
    "seed) on that task alone. A task's rows of the shared cells are its own test part, so they "
    "pair with its own cells example by example. Δ is shared minus own in the task's primary "
    "metric, method-level (seed-to-seed and test-set variance; the test set resampled for a "
    "metric that is not a mean over examples such as macro-F1; 95% interval, two-sided p, "
    "paired by seed); Holm adjusts the p-values over the mixture's tasks (the family: does "
    "sharing the adapter change this task's metric?). A seed that predicts one class for every "
    "test example of a task is a collapse: that task is not tested."
)


@dataclasses.dataclass
class TaskRow:
    """One component of one shared configuration against its own twin."""

    task: str
    metric: str
    shared: list[float]
    own: list[float]
    seeds: list[int]
    result: MethodDifference | None
    collapsed: str
    holm: float | None = None


def _scores(rows: list[dict[str, Any]], offset: int) -> tuple[np.ndarray, np.ndarray]:
    labels = np.array([r["label"] for r in rows]) - offset
    preds = np.array([r["pred"] for r in rows]) - offset
    return labels, preds


def _block_rows(store: Store, cell_id: str, block: dict[str, Any]) -> list[dict[str, Any]]:
    start, end = block["rows"]["test"]
    return [r for r in store.predictions(cell_id) if start <= r["idx"] < end]


def _keyed(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with its configurations' keys in `config`."""
    if "config" in frame:
        return frame
    return frame.assign(config=frame["spec"].map(configuration_key))


def _alone(shared: pd.DataFrame, task: str, own: pd.DataFrame) -> pd.DataFrame:
    """The shared configuration's twin cells on `task` alone (`own` keyed by _keyed)."""
    twin = dataclasses.replace(
        shared["spec"].iloc[0], task=task, task_version=TASKS.get(task).version
    )
    return own[own["config"] == configuration_key(twin)]


def shared_configurations(ok: pd.DataFrame) -> list[pd.DataFrame]:
    """The seeds' cells of each configuration trained on a mixture, in stored order."""
    if ok.empty or "data" not in ok:
        return []
    mixtures = ok[ok["task"].map(lambda t: bool(TASKS.get(t).components))]
    return [group for _, group in _keyed(mixtures).groupby("config", sort=False)]


def task_rows(shared: pd.DataFrame, own: pd.DataFrame, store: Store) -> list[TaskRow]:
    """Each component of the shared configuration `shared` (its seeds' cells) against the same
    configuration on that task alone (found in `own`, any task's ok cells)."""
    own = _keyed(own)
    out = []
    for block in shared["data"].iloc[0]["tasks"]:
        task = block["task"]
        alone = _alone(shared, task, own)
        alone = alone if "collapsed" in alone else with_failure_modes(alone)
        seeds = sorted(set(shared["seed"]) & set(alone["seed"]))
        metric = block["metric"]
        score = METRICS[metric]
        labels, mine, theirs, fallen = None, [], [], []
        for seed in seeds:
            a = _block_rows(store, shared[shared["seed"] == seed]["cell_id"].iloc[0], block)
            b_cell = alone[alone["seed"] == seed]
            b = store.predictions(b_cell["cell_id"].iloc[0])
            ya, pa = _scores(a, block["label_offset"])
            yb, pb = _scores(b, 0)
            if not np.array_equal(ya, yb):
                raise ValueError(
                    f"{task}: the shared cell's rows and cell {b_cell['cell_id'].iloc[0]} do not "
                    "hold the same test examples"
                )
            labels = ya
            mine.append(pa)
            theirs.append(pb)
            if len(set(pa.tolist())) == 1:
                fallen.append(f"shared seed {seed}")
            if bool(b_cell["collapsed"].iloc[0]):
                fallen.append(f"own seed {seed}")
        result = None
        if seeds and not fallen:
            a_preds, b_preds = np.array(mine), np.array(theirs)
            if metric in PER_EXAMPLE:
                per = PER_EXAMPLE[metric]
                result = method_difference(
                    np.array([per(labels, p) for p in a_preds]),
                    np.array([per(labels, p) for p in b_preds]),
                )
            else:
                result = method_difference_metric(labels, a_preds, b_preds, score)
        out.append(
            TaskRow(
                task=task,
                metric=metric,
                shared=[score(labels, p) for p in mine],
                own=[score(labels, p) for p in theirs],
                seeds=seeds,
                result=result,
                collapsed=", ".join(f"{f} collapsed" for f in fallen),
            )
        )
    tested = [r for r in out if r.result is not None]
    if tested:
        adjusted = stats.holm([r.result.pvalue for r in tested]).pvalues
        for row, holm in zip(tested, adjusted, strict=True):
            row.holm = holm
    return out


def _mean_sd(values: list[float]) -> str:
    if not values:
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}"


def shipped(shared: pd.DataFrame, own: pd.DataFrame) -> tuple[int, int] | None:
    """(the shared cell's trainable parameters, the per-task cells' together); None where a
    task has no cell of the configuration."""
    own = _keyed(own)
    total = 0
    for block in shared["data"].iloc[0]["tasks"]:
        alone = _alone(shared, block["task"], own)
        if alone.empty:
            return None
        total += int(alone["trainable_params"].iloc[0])
    return int(shared["trainable_params"].iloc[0]), total


def multitask_section(ok: pd.DataFrame, store: Store) -> list[str]:
    """The markdown of every shared configuration in `ok` (none: no lines)."""
    groups = shared_configurations(ok)
    if not groups:
        return []
    lines = [f"## {HEADING}", ""]
    for shared in groups:
        first = shared.iloc[0]
        rows = task_rows(shared, ok, store)
        lines.append(
            f"{first['method']} shared over {first['task']} "
            f"({', '.join(r.task for r in rows)}; {int(first['steps'])} steps), against the "
            "same configuration on each task alone:"
        )
        lines.append("")
        table = pd.DataFrame(
            [
                {
                    "task": r.task,
                    "metric": r.metric,
                    "one per task": _mean_sd(r.own),
                    "shared": _mean_sd(r.shared),
                    "Δ shared − own (95% interval)": (
                        f"not tested: {r.collapsed}"
                        if r.collapsed
                        else "—"
                        if r.result is None
                        else f"{r.result.estimate:+.4f} [{r.result.low:+.4f}, {r.result.high:+.4f}]"
                    ),
                    "p": "—" if r.result is None else f"{r.result.pvalue:.3g}",
                    "Holm p": "—" if r.holm is None else f"{r.holm:.3g}",
                    "seeds": len(r.seeds),
                }
                for r in rows
            ]
        )
        lines += [table.to_markdown(index=False, disable_numparse=True), ""]
        counts = shipped(shared, ok)
        if counts is not None:
            one, apart = counts
            lines += [
                f"Parameters to ship (trainable: the method's and the heads'): shared "
                f"{one:,}; one per task {apart:,} together ({one / apart:.1%} of that).",
                "",
            ]
    lines += [NOTE, ""]
    return lines


def multitask_lines(stem: str, ok: pd.DataFrame, store: Store) -> list[str]:
    """The summary's bullets: per shared configuration, each task's Δ against its own adapter
    and the parameters shipped."""
    out = []
    for shared in shared_configurations(ok):
        first = shared.iloc[0]
        effects = []
        for r in task_rows(shared, ok, store):
            if r.result is None:
                effects.append(f"{r.task} not tested ({r.collapsed or 'no twin'})")
                continue
            effects.append(
                f"{r.task} {r.metric} {_mean_sd(r.own)} -> {_mean_sd(r.shared)}, "
                f"Δ {r.result.estimate:+.4f} [{r.result.low:+.4f}, {r.result.high:+.4f}], "
                f"Holm p {r.holm:.3g}"
            )
        counts = shipped(shared, ok)
        ships = (
            f"; ships {counts[0]:,} trainable parameters against {counts[1]:,} for one per task"
            if counts
            else ""
        )
        anchor = heading_anchor(HEADING)
        out.append(
            f"- [{first['method']} shared over {first['task']}]({stem}.md#{anchor}), one per "
            f"task -> shared: " + "; ".join(effects) + ships + "."
        )
    return out
