"""Preference cells' settings in canonical form: what a setting cannot change is reset to its
default before the cell's id is taken (a reward model has no reference; a method without a
base to switch back to uses a copy under either reference setting)."""

from __future__ import annotations

import dataclasses

from bench.core.registry import METHODS, TASKS
from bench.core.spec import CellSpec

DPO_FIELDS = ("dpo_beta", "dpo_reference")
# the preference settings at CellSpec's defaults (what a cell without them holds)
DEFAULTS = {
    f.name: f.default
    for f in dataclasses.fields(CellSpec)
    if f.name in ("preference_objective", *DPO_FIELDS)
}


def is_preference(spec: CellSpec) -> bool:
    return TASKS.get(spec.task).kind == "preference"


def canonical(spec: CellSpec) -> CellSpec:
    """The cell with the preference settings that change nothing at their defaults."""
    if not is_preference(spec):
        return spec
    if spec.preference_objective == "reward":
        return dataclasses.replace(spec, **{n: DEFAULTS[n] for n in DPO_FIELDS})
    if spec.dpo_reference == "copy" and not METHODS.get(spec.method).base_when_disabled:
        return dataclasses.replace(spec, dpo_reference="auto")  # auto is a copy for it too
    return spec
