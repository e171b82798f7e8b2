"""The preference table of a suite page: per objective (DPO, reward model), each method's reward
accuracy and margin on held-out pairs, its reference and what the reference costs, and each
against full fine-tuning tested at the method level (Holm over the page's comparisons)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from bench.report.labels import BASELINE, fmt_memory
from bench.report.speed import speed_ratio, step_time
from bench.report.win_rate_table import win_rate_section
from bench.stats import paired as stats
from bench.stats.compare import method_level_difference
from bench.stats.configurations import configuration_key
from bench.store.cell_store import Store

OBJECTIVES = {"dpo": "DPO", "reward": "reward model"}
NOTE = (
    "Preferences: reward accuracy is the share of held-out pairs whose chosen response scores "
    "above the rejected one (a tie counts as wrong, as in trl): for a reward model its scalar "
    "head's outputs, for DPO the implicit rewards beta x (log pi - log pi_ref) of the two "
    "responses. Margin: the mean score difference, on each objective's own scale (DPO's in "
    "nats x beta; a reward head's arbitrary), so margins compare within an objective only. "
    "'reference alone': how often the DPO reference (the untrained base) gives the chosen "
    "response the higher log-probability by itself. Reference: `adapter-off` runs the trained "
    "model with its method switched off (peft's disable_adapter: no second copy of the "
    "weights), `copy` a frozen second model; 'reference bytes' is that copy's weights and "
    "buffers. Training memory: peak RSS minus RSS at cell start (CPU). Step time: the median "
    "steady step of the latest timing pass that timed the configuration (`(timing pass)`: "
    "its uncontended rounds, taken side by side with the others'), else of the cells' own "
    "runs, marked; the ratio (DPO rows) against the first configuration "
    "whose reference is its own model with the method switched off is side "
    "by side where a timing pass (`python run_all.py time --suite NAME`) timed both, "
    "else from the cells' runs, marked. Δ: each configuration minus full fine-tuning of the "
    "same objective in reward accuracy, method-level (seed and test-pair variance; 95% "
    "interval; paired by seed; a configuration forced to a copy is not tested again, it "
    "computes what its twin does); p adjusted by Holm over the comparisons of this table."
)


def _objective(spec: Any) -> str:
    return spec.preference_objective


def _reference(records: pd.Series) -> tuple[str, int | None]:
    found = [r for r in records if isinstance(r, dict)]
    if not found:
        return "—", None
    return str(found[0].get("reference") or "none"), found[0].get("reference_bytes")


def _mean_sd(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "—"
    if len(values) == 1:
        return f"{values.iloc[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def _adapter_off(ok: pd.DataFrame) -> pd.DataFrame | None:
    """The first DPO configuration whose reference is its own model with the method switched
    off: the speed ratios' baseline (no second model held)."""
    for _, group in ok.groupby("config", sort=False):
        strategy, _ = _reference(group["preference"])
        if _objective(group["spec"].iloc[0]) == "dpo" and strategy == "adapter-off":
            return group
    return None


def _as_copy(spec: Any) -> str:
    """The configuration key of the same cell with its reference forced to a copy."""
    import dataclasses

    return configuration_key(dataclasses.replace(spec, dpo_reference="copy"))


def preference_rows(
    ok: pd.DataFrame, store: Store, timings: list[dict[str, Any]] | None = None
) -> tuple[pd.DataFrame, list[dict[str, Any]]] | None:
    """One row per configuration, and the comparisons with full; None without such cells."""
    if ok.empty or "preference" not in ok:
        return None
    ok = ok[ok["preference"].map(lambda r: isinstance(r, dict))]
    if ok.empty:
        return None
    ok = ok.assign(config=ok["spec"].map(configuration_key))
    base = _adapter_off(ok)
    rows = []
    for _, group in ok.groupby("config", sort=False):
        spec = group["spec"].iloc[0]
        strategy, nbytes = _reference(group["preference"])
        metrics = pd.DataFrame(list(group["metrics"]))
        reference_alone = metrics.get("reference_accuracy")
        rows.append(
            {
                "objective": OBJECTIVES.get(_objective(spec), _objective(spec)),
                "method": group["method"].iloc[0],
                "reference": strategy if _objective(spec) == "dpo" else "—",
                "trainable %": f"{group['trainable_pct'].iloc[0]:.3f}",
                "reward accuracy mean ± sd": _mean_sd(metrics["reward_accuracy"]),
                "margin mean": f"{metrics['reward_margin'].mean():+.4f}",
                "reference alone": (
                    f"{reference_alone.mean():.4f}" if reference_alone is not None else "—"
                ),
                "training memory": fmt_memory(group["train_mem_mib"].median()),
                "reference bytes": (
                    "0" if nbytes == 0 else f"{nbytes / 2**20:.0f} MiB" if nbytes else "—"
                ),
                "step time ms": step_time(group, timings),
                f"x speed vs {base['method'].iloc[0] if base is not None else '-'}, adapter off": (
                    speed_ratio(group, base, timings)
                    if base is not None and _objective(spec) == "dpo"
                    else "—"
                ),
                "seeds": len(group),
                "_config": configuration_key(spec),
                "_objective": _objective(spec),
                "_method": spec.method,
                "_strategy": strategy,
                "_forced_copy": spec.dpo_reference == "copy",
            }
        )
    order = list(OBJECTIVES)
    rows.sort(key=lambda r: order.index(r["_objective"]) if r["_objective"] in order else 99)
    table = pd.DataFrame(rows)
    return table, _comparisons(ok, table, store)


def _comparisons(ok: pd.DataFrame, table: pd.DataFrame, store: Store) -> list[dict[str, Any]]:
    """Each configuration at its default reference against full fine-tuning, per objective
    (a forced copy computes what its twin does: not tested again); Holm over all of them."""
    found = []
    for objective, rows in table.groupby("_objective", sort=False):
        full = rows[rows["_method"] == BASELINE]
        others = rows[(rows["_method"] != BASELINE) & ~rows["_forced_copy"].astype(bool)]
        if full.empty:
            continue
        for _, row in others.iterrows():
            result = method_level_difference(
                store, ok, row["_config"], full["_config"].iloc[0], by="config"
            )
            if result is not None:
                found.append(
                    {
                        "objective": OBJECTIVES.get(objective, objective),
                        "method": row["method"],
                        "baseline": full["method"].iloc[0],
                        "result": result,
                    }
                )
    if found:
        corrected = stats.holm([f["result"].pvalue for f in found]).pvalues
        for entry, holm_p in zip(found, corrected, strict=True):
            entry["holm_p"] = holm_p
    return found


def same_predictions(ok: pd.DataFrame, store: Store) -> list[str]:
    """For each configuration run both with its method switched off and against a forced copy
    of the base: whether the two score every test pair alike, seed by seed (the same reference,
    held once or twice)."""
    ok = ok[ok["preference"].map(lambda r: isinstance(r, dict))]
    by_config: dict[str, dict[int, str]] = {}
    labels: dict[str, str] = {}
    for _, row in ok.iterrows():
        spec = row["spec"]
        by_config.setdefault(configuration_key(spec), {})[spec.seed] = row["cell_id"]
        labels[configuration_key(spec)] = row["method"]
    out = []
    for _, row in ok.drop_duplicates("method").iterrows():
        spec = row["spec"]
        strategy, _ = _reference([row["preference"]])
        copy_key = _as_copy(spec)
        if strategy != "adapter-off" or copy_key not in by_config:
            continue
        mine, twins = by_config[configuration_key(spec)], by_config[copy_key]
        seeds = sorted(set(mine) & set(twins))
        equal, largest = 0, 0.0
        for seed in seeds:
            off, copy = store.predictions(mine[seed]), store.predictions(twins[seed])
            a = np.array([r["score"] for r in off])
            b = np.array([r["score"] for r in copy])
            equal += [r["pred"] for r in off] == [r["pred"] for r in copy]
            largest = max(largest, float(np.abs(a - b).max()) if len(a) == len(b) else np.inf)
        out.append(
            f"`{labels[copy_key]}` and `{row['method']}` (its method switched off as the "
            f"reference) score the test pairs alike in {equal} of {len(seeds)} seeds (largest "
            f"margin difference {largest:.2g}): the same reference, held twice or once"
        )
    return out


def preference_section(
    ok: pd.DataFrame, store: Store, timings: list[dict[str, Any]] | None = None
) -> list[str]:
    """The markdown lines of the table, its tests and its note (none without such cells)."""
    found = preference_rows(ok, store, timings)
    if found is None:
        return []
    table, compared = found
    lines = [
        "Preferences, per objective:",
        "",
        table.drop(columns=[c for c in table if c.startswith("_")]).to_markdown(
            index=False, disable_numparse=True
        ),
        "",
    ]
    for entry in compared:
        r = entry["result"]
        lines.append(
            f"- {entry['objective']}: `{entry['method']}` - `{entry['baseline']}` "
            f"{r.estimate:+.4f} [{r.low:+.4f}, {r.high:+.4f}] reward accuracy, p {r.pvalue:.3g} "
            f"(Holm {entry['holm_p']:.3g}, family of {len(compared)})"
        )
    lines += [f"- {line}." for line in same_predictions(ok, store)]
    return [*lines, "", NOTE, "", *win_rate_section(ok, store)]
