"""One identity for a configuration everywhere: cells that differ only in their seed are the
seeds of one configuration; anything else that differs (method, settings, learning rate,
recipe, budget, regime, the search-trial flag) makes another configuration, which no table,
comparison or claim pools with it."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from bench.core.spec import CellSpec

# What a configuration's label never shows: the seed (the unit of repetition) and the method,
# which the label starts with.
_NOT_LABELLED = {"seed", "method"}
# The fields that make a configuration the method's own (compared within one budget).
METHOD_FIELDS = ("method", "settings", "lr", "method_version")


def configuration_key(spec: CellSpec) -> str:
    """The cell's spec without its seed: equal for exactly the seeds of one configuration."""
    data = json.loads(spec.to_json())
    data.pop("seed", None)
    if data.get("teacher"):  # a distilled cell's teacher is its seed's: the same configuration
        teacher = json.loads(data["teacher"])
        teacher.pop("seed", None)
        data["teacher"] = teacher
    return json.dumps(data, sort_keys=True)


def budget_key(spec: CellSpec) -> str:
    """The spec without its seed and method fields: the cells whose methods compare fairly
    (same model, task, data, budget, recipe and regime)."""
    data = json.loads(configuration_key(spec))
    for name in METHOD_FIELDS:
        data.pop(name, None)
    return json.dumps(data, sort_keys=True)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list):  # settings as stored: [[name, value], ...]
        return ", ".join(f"{k}={_short(v)}" for k, v in value) or "defaults"
    return str(value)


def _differences(configs: list[dict[str, Any]]) -> list[str]:
    """The fields whose values differ among the configurations, in a stable order."""
    names = sorted({k for c in configs for k in c} - _NOT_LABELLED)
    return [n for n in names if len({json.dumps(c.get(n), sort_keys=True) for c in configs}) > 1]


def with_configurations(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `config` (the configuration's key), `budget` (its budget key), `where` (model /
    task / device, plus every budget field in which it differs from the frame's other budgets
    there) and `variant` (the method label, plus every field in which it differs from other
    configurations of that label within its budget: `lr`, settings), so that two
    configurations never share a name. The frame needs a `spec` column."""
    out = frame.copy()
    out["config"] = [configuration_key(s) for s in out["spec"]]
    out["budget"] = [budget_key(s) for s in out["spec"]]
    out["where"] = [f"{s.model} / {s.task} / {s.device}" for s in out["spec"]]
    _name_apart(out, "where", "budget")
    out["variant"] = out["method"]
    for _, group in out.groupby("budget", sort=False):
        sub = group.copy()
        _name_apart(sub, "variant", "config")
        out.loc[sub.index, "variant"] = sub["variant"]
    return out


def _name_apart(frame: pd.DataFrame, column: str, key: str) -> None:
    """Within each value of `column`, append to it the fields in which its `key`s differ."""
    for _, group in frame.groupby(column, sort=False):
        keys = list(dict.fromkeys(group[key]))
        if len(keys) < 2:
            continue
        configs = [json.loads(k) for k in keys]
        fields = _differences(configs)
        names = {
            k: "; ".join(_part(name, config.get(name)) for name in fields)
            for k, config in zip(keys, configs, strict=True)
        }
        frame.loc[group.index, column] = [
            f"{label} ({names[k]})" for label, k in zip(group[column], group[key], strict=True)
        ]


def scored_on_test(frame: pd.DataFrame) -> pd.DataFrame:
    """The cells scored on the test split: search trials (validation-scored) left out."""
    return frame[~frame["trial"].astype(bool)]


def _part(name: str, value: Any) -> str:
    if name == "trial":
        return "search trial, validation-scored" if value else "test-scored"
    if name == "settings":
        return _short(value if value is not None else [])
    if name == "teacher" and isinstance(value, dict):  # its full spec is in the key
        on = f" on {value['model']}" if value.get("model") else ""
        return f"teacher {value.get('method')}{on} (lr {_short(value.get('lr'))})"
    if value is None:  # a budget field left unset: say so in words, not `shots None`
        return f"no {name}"
    return f"{name} {_short(value)}"
