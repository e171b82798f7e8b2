"""The summary page's regime lines: what each with-and-without table of a suite page says
(dynamic masking, EDA), one line per task, model and regime."""

from __future__ import annotations

import pandas as pd

from bench.report.labels import heading_anchor
from bench.report.regime_table import REGIMES, regime_rows
from bench.store.cell_store import Store


def _effect(row: dict) -> str:
    result = row["result"]
    if result is None:
        return f"`{row['configuration']}` not tested ({row['collapsed'] or 'no test'})"
    return (
        f"`{row['configuration']}` {row['without']} -> {row['with']}, "
        f"Δ {result.estimate:+.4f} [{result.low:+.4f}, {result.high:+.4f}], "
        f"Holm p {row.get('holm', float('nan')):.3g}"
    )


def regime_lines(stem: str, frame: pd.DataFrame, store: Store) -> list[str]:
    """One bullet per task, model and regime whose table the page shows."""
    out = []
    for (task, model), group in frame.groupby(["task", "model"], sort=False):
        for field, (name, _) in REGIMES.items():
            rows = regime_rows(group, store, field)
            if not rows:
                continue
            title = f"{task} on {model}"
            settings = sorted({", ".join(r["setting"]) for r in rows})
            out.append(
                f"- [{title}]({stem}.md#{heading_anchor(title)}), {name} "
                f"({'; '.join(settings)}), {rows[0]['metric']} without -> with: "
                + "; ".join(_effect(r) for r in rows)
            )
    return out
