"""`export` (one row per stored cell, for pandas and elsewhere) and `status` (counts by status
per suite, the failed cells with their error's first line)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bench.core.registry import METHODS
from bench.core.spec import CellSpec
from bench.core.status import FINE
from bench.store.cell_store import Store

FORMATS = ("csv", "jsonl", "parquet")
# Per-example and per-step lists live elsewhere (predictions table) or are too long for a row.
SKIPPED = ("predictions", "curve", "traceback", "per_class_recall")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted columns; lists as JSON text (a column holds one value)."""
    out: dict[str, Any] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            if not prefix and key in SKIPPED:
                continue
            out.update(flatten(inner, f"{prefix}{key}."))
        return out
    if isinstance(value, list | tuple):
        return {prefix[:-1]: json.dumps(value)}
    return {prefix[:-1]: value}


def spec_columns(spec: CellSpec) -> dict[str, Any]:
    """The spec's fields, settings as JSON text (so that the spec rebuilds from a row)."""
    data = json.loads(spec.to_json())
    data["settings"] = json.dumps(data.get("settings", []))
    return {f"spec.{k}": v for k, v in data.items()}


def export_rows(store: Store, cell_ids: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """One flat row per stored cell: id, status, error, when, the spec, the measured figures."""
    rows = []
    for rec in store.cells(cell_ids):
        row = {
            "cell_id": rec["id"],
            "status": rec["status"],
            "error": rec["error"],
            "finished_at": rec["finished_at"],
            **spec_columns(rec["spec"]),
        }
        row.update(flatten(rec["result"]))
        row["command"] = (rec["env"] or {}).get("command")
        rows.append(row)
    return rows


def spec_from_row(row: dict[str, Any]) -> CellSpec:
    """The CellSpec a row was made from (the export round-trips through it)."""
    data = {
        k.removeprefix("spec."): v
        for k, v in row.items()
        if k.startswith("spec.") and not _missing(v)
    }
    data["settings"] = json.loads(data.get("settings", "[]"))
    return CellSpec.from_json(json.dumps(data))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def write_export(rows: list[dict[str, Any]], path: Path, fmt: str) -> None:
    """Write the rows as csv, jsonl (one object per line) or parquet."""
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of: {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "jsonl":
        with path.open("w") as handle:
            for row in rows:
                handle.write(json.dumps(row, sort_keys=True, allow_nan=True) + "\n")
        return
    import pandas as pd

    frame = pd.DataFrame(rows)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def _outside_suites(spec: CellSpec) -> str:
    """Where a cell of no suite came from, as `status` files it."""
    if spec.method not in METHODS or not METHODS.get(spec.method).builtin:
        return "(plugin methods)"
    if spec.trial:
        return "(search trials)"
    return "(narrowed or tuned runs)"


def status_rows(store: Store, suites: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Counts by status for each suite's stored cells; the cells of no suite are counted by
    where they came from (plugin methods, search trials, narrowed or tuned runs)."""
    records = {rec["id"]: rec for rec in store.cells()}
    groups: dict[str, Counter[str]] = {}
    claimed: set[str] = set()
    for name, ids in suites.items():
        mine = [i for i in ids if i in records]
        claimed.update(mine)
        if mine:
            groups[name] = Counter(records[i]["status"] for i in mine)
    for cell_id, rec in records.items():
        if cell_id not in claimed:
            groups.setdefault(_outside_suites(rec["spec"]), Counter())[rec["status"]] += 1
    statuses = sorted({s for counts in groups.values() for s in counts}, key=_status_order)
    return [{"suite": name, **{s: counts[s] for s in statuses}} for name, counts in groups.items()]


def _status_order(status: str) -> tuple[int, str]:
    return (0 if status in FINE else 1, status)


def failed_cells(store: Store) -> list[tuple[str, str, str, str]]:
    """(cell id, status, label, first line of the error) of cells that did not end well."""
    out = []
    for rec in store.cells():
        if rec["status"] in FINE:
            continue
        error = (rec["error"] or "").strip()
        out.append(
            (rec["id"], rec["status"], rec["spec"].label(), error.splitlines()[0] if error else "")
        )
    return out
