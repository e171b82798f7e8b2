"""The with-and-without table of a regime that a suite crosses with its methods (dynamic masking,
EDA augmentation): each configuration with the regime against its twin without it, tested at
the method level, Holm over the page's rows of that regime."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd

from bench.stats import paired as stats
from bench.stats.collapse import collapse_note, with_failure_modes
from bench.stats.compare import method_level_difference
from bench.stats.configurations import configuration_key
from bench.store.cell_store import Store

# spec field -> (what the page calls it, the twin's values: the regime switched off)
REGIMES: dict[str, tuple[str, dict[str, Any]]] = {
    "dynamic_mask": ("dynamic masking", {"dynamic_mask": None}),
    "augment": ("EDA augmentation", {"augment": None, "augment_copies": 4}),
}

NOTE = (
    "{name}: each configuration trained with it against the same configuration (method, "
    "settings, budget, shots, seed) without it. Δ is with minus without in the primary metric, "
    "method-level (seed-to-seed and test-set variance, the test set resampled for a metric "
    "that is not a mean over examples such as entity F1; 95% interval, two-sided p, paired by "
    "seed); Holm adjusts the p-values over this table's rows (the family: does {lower} change "
    "this configuration's metric?). A configuration with a collapsed seed (one class predicted "
    "for every test example) is a failure, not tested."
)


def _mean_sd(cells: pd.DataFrame) -> str:
    healthy = cells[~cells["collapsed"]]["metric"]
    if healthy.empty:
        return "collapsed"
    if len(healthy) == 1:
        return f"{healthy.iloc[0]:.4f}"
    return f"{healthy.mean():.4f} ± {healthy.std(ddof=1):.4f}"


def regime_rows(ok: pd.DataFrame, store: Store, field: str) -> list[dict[str, Any]]:
    """One row per configuration with the regime whose twin the frame holds."""
    if ok.empty or "spec" not in ok:
        return []
    _, off = REGIMES[field]
    ok = ok.assign(config=ok["spec"].map(configuration_key))
    if "collapsed" not in ok:
        ok = with_failure_modes(ok)
    rows = []
    with_regime = ok[ok["spec"].map(lambda s: getattr(s, field) is not None)]
    for config, group in with_regime.groupby("config", sort=False):
        spec = group["spec"].iloc[0]
        twin = configuration_key(dataclasses.replace(spec, **off))
        plain = ok[ok["config"] == twin]
        if plain.empty:
            continue
        collapsed = "; ".join(
            f"{name}: {note}"
            for name, note in (("with", collapse_note(group)), ("without", collapse_note(plain)))
            if note
        )
        result = (
            None if collapsed else method_level_difference(store, ok, config, twin, by="config")
        )
        rows.append(
            {
                "configuration": plain["method"].iloc[0],
                "setting": [
                    t for t in spec.recipe_tags() if t not in plain["spec"].iloc[0].recipe_tags()
                ],
                "without": _mean_sd(plain),
                "with": _mean_sd(group),
                "result": result,
                "collapsed": collapsed,
                "seeds": f"{len(group)} / {len(plain)}",
                "metric": group["metric_name"].iloc[0],
            }
        )
    tested = [r for r in rows if r["result"] is not None]
    if tested:
        for row, holm in zip(
            tested, stats.holm([r["result"].pvalue for r in tested]).pvalues, strict=True
        ):
            row["holm"] = holm
    return rows


def regime_section(ok: pd.DataFrame, store: Store, field: str) -> list[str]:
    """The markdown lines of the regime's table and its note (none without twins)."""
    rows = regime_rows(ok, store, field)
    if not rows:
        return []
    name, _ = REGIMES[field]
    metric = ok["metric_name"].iloc[0] if "metric_name" in ok else "metric"
    table = pd.DataFrame(
        [
            {
                "configuration": r["configuration"],
                "with": ", ".join(r["setting"]),
                f"{metric} without": r["without"],
                f"{metric} with": r["with"],
                "Δ (95% interval)": (
                    f"not tested: {r['collapsed']}"
                    if r["collapsed"]
                    else "—"
                    if r["result"] is None
                    else f"{r['result'].estimate:+.4f} [{r['result'].low:+.4f}, "
                    f"{r['result'].high:+.4f}]"
                ),
                "p": "—" if r["result"] is None else f"{r['result'].pvalue:.3g}",
                "Holm p": f"{r['holm']:.3g}" if "holm" in r else "—",
                "seeds (with / without)": r["seeds"],
            }
            for r in rows
        ]
    )
    return [
        f"{name[0].upper()}{name[1:]}, with and without:",
        "",
        table.to_markdown(index=False, disable_numparse=True),
        "",
        NOTE.format(name=name[0].upper() + name[1:], lower=name),
        "",
    ]
