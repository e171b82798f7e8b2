"""How a configuration's failed seeds read in a table: collapses and results below the
majority-class baseline, each with its seeds."""

from __future__ import annotations

import pandas as pd

from bench.stats.collapse import collapse_note, with_failure_modes


def failure_notes(group: pd.DataFrame) -> str:
    """What went wrong in a method's seeds: collapses and results below the majority class."""
    notes = [collapse_note(group)]
    below = group[group["below_majority"] & ~group["collapsed"]]
    if len(below):
        seeds = ", ".join(str(s) for s in sorted(below["seed"]))
        notes.append(f"below the majority-class baseline (seed {seeds})")
    return "; ".join(n for n in notes if n) or "-"


def collapsed_methods(ok: pd.DataFrame) -> dict[str, str]:
    """Each method of a table with collapsed seeds, and its 'k of n seeds collapsed' note."""
    flagged = with_failure_modes(ok)
    return {
        method: collapse_note(group)
        for method, group in flagged.groupby("method", sort=False)
        if group["collapsed"].any()
    }
