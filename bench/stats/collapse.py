"""Failure modes counted as such, never averaged as noise: a classifier that predicts one
class for every test example has collapsed; one that scores below the majority-class
baseline is flagged."""

from __future__ import annotations

from typing import Any

import pandas as pd


def is_collapsed(recall: dict[str, float] | None) -> bool:
    """One class (or none) recalled at all: the model predicts a single class everywhere."""
    if not recall or len(recall) < 2:
        return False
    return sum(1 for value in recall.values() if value and value > 0) <= 1


def below_majority(accuracy: float | None, majority: float | None) -> bool:
    """Accuracy under what always predicting the commonest class scores."""
    if accuracy is None or majority is None or accuracy != accuracy or majority != majority:
        return False
    return accuracy < majority


def with_failure_modes(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `collapsed` and `below_majority` (bools) from `recall`, `accuracy`, `majority`."""
    out = frame.copy()
    out["collapsed"] = [is_collapsed(_get(r, "recall")) for _, r in out.iterrows()]
    out["below_majority"] = [
        below_majority(_get(r, "accuracy"), _get(r, "majority")) for _, r in out.iterrows()
    ]
    return out


def _get(row: pd.Series, name: str) -> Any:
    value = row.get(name)
    return None if value is None or (isinstance(value, float) and value != value) else value


def collapse_note(cells: pd.DataFrame) -> str:
    """'k of n seeds collapsed' (with the seeds), or '' when none did."""
    collapsed = cells[cells["collapsed"]]
    if collapsed.empty:
        return ""
    seeds = ", ".join(str(s) for s in sorted(collapsed["seed"]))
    return f"{len(collapsed)} of {len(cells)} seeds collapsed (seed {seeds})"
