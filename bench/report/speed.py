"""A configuration's speed against a baseline's, as every page states it: side by side from a
timing pass where one timed both, else from the cells' own runs, marked as such."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.report.cells_table import step_time_text
from bench.stats.configurations import configuration_key
from bench.timing.ratios import side_by_side, timed_step


def speed_ratio(
    group: pd.DataFrame, base: pd.DataFrame, timings: list[dict[str, Any]] | None
) -> str:
    """The baseline's step time over the method's: from a timing pass that timed both side by
    side when the store holds one (with its spread), else from the cells' own runs, marked."""
    if base.empty:
        return "n/a"
    if timings:
        mine = configuration_key(group["spec"].iloc[0])
        theirs = configuration_key(base["spec"].iloc[0])
        if mine == theirs:
            return "1.00"
        paired = side_by_side(timings, mine, theirs)
        if paired is not None:
            return paired.text()
    ratio = base["step_time_s"].median() / group["step_time_s"].median()
    same = list(group["cell_id"]) == list(base["cell_id"])
    return "1.00" if same else f"{ratio:.2f} (separate runs)"


def step_time(group: pd.DataFrame, timings: list[dict[str, Any]] | None) -> str:
    """The configuration's step time in ms: from the latest timing pass that timed it (its
    rounds side by side with the others'), else the cells' own median, marked as such."""
    timed = timed_step(timings or [], configuration_key(group["spec"].iloc[0]))
    if timed is not None:
        return f"{timed * 1000:.0f} (timing pass)"
    return f"{step_time_text(group)} (cells' own runs)"
