"""The summary page's preference lines: what the preference cells of one suite page say, in
brief (the objectives are never pooled: each has its own line)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.core.registry import TASKS
from bench.core.status import Status
from bench.report.labels import heading_anchor
from bench.report.preference_table import preference_rows
from bench.report.win_rate_table import judged_rows
from bench.store.cell_store import Store


def is_preference_task(task: str) -> bool:
    return task in TASKS and TASKS.get(task).kind == "preference"


def preference_lines(
    stem: str, frame: pd.DataFrame, store: Store, timings: list[dict[str, Any]] | None
) -> list[str]:
    """One bullet per task, model and objective whose cells the page tabulates."""
    out: list[str] = []
    for (task, model), group in frame.groupby(["task", "model"], sort=False):
        if not is_preference_task(task):
            continue
        found = preference_rows(group, store, timings)
        if found is None:
            continue
        table, compared = found
        title = f"{task} on {model}"
        for objective, rows in table.groupby("objective", sort=False):
            listed = "; ".join(
                f"`{r['method']}`"
                + (f" (reference {r['reference']})" if r["reference"] != "—" else "")
                + f" {r['reward accuracy mean ± sd']}, training memory {r['training memory']}"
                for _, r in rows.iterrows()
            )
            verdict = "".join(
                f"; `{c['method']}` - `{c['baseline']}` {c['result'].estimate:+.4f} "
                f"[{c['result'].low:+.4f}, {c['result'].high:+.4f}], Holm p {c['holm_p']:.3g}"
                for c in compared
                if c["objective"] == objective
            )
            out.append(
                f"- [{title}]({stem}.md#{heading_anchor(title)}), {objective}: reward accuracy "
                f"{listed}{verdict}"
            )
        judged = judged_rows(group[group["status"] == Status.OK], store)
        if judged:
            rates = "; ".join(
                f"`{r['method']}` {r['win rate mean ± sd']} (per seed, Holm p: "
                f"{r['per seed (Holm p)']})"
                for r in judged
            )
            out.append(
                f"- [{title}]({stem}.md#{heading_anchor(title)}), DPO replies against the "
                f"reference's, judged by stored reward models (judge accuracy "
                f"{judged[0]['judge accuracy']} on held-out pairs): win rate {rates}"
            )
    return out
