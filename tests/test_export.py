"""`export` round-trips every stored cell; `status` counts them by suite and lists failures."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from bench.cell.run import failure_record
from bench.cli.main import main
from bench.execute.worker import run_in_process
from bench.report.export import flatten, spec_from_row
from bench.store.cell_store import Store
from tests.helpers import tiny_cell


@pytest.fixture(scope="module")
def filled(tmp_path_factory):
    """A store with an ok cell, an error cell and an oom cell."""
    path = tmp_path_factory.mktemp("export") / "s.sqlite"
    ok = tiny_cell("bitfit", train_size=64)
    with Store(path) as store:
        store.save(ok, run_in_process(ok))
        store.save(tiny_cell("lora", seed=1), failure_record(RuntimeError("broke\nsecond line")))
        store.save(tiny_cell("full", seed=2), failure_record(MemoryError()))
        records = {r["id"]: r for r in store.cells()}
    return path, records


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_export_round_trips_every_stored_cell(filled, fmt, tmp_path, capsys):
    path, records = filled
    out = tmp_path / f"cells.{fmt}"
    assert main(["export", "--store", str(path), "--format", fmt, "--output", str(out)]) == 0
    assert "3 cells written" in capsys.readouterr().err
    if fmt == "jsonl":
        rows = [json.loads(line) for line in out.read_text().splitlines()]
    else:
        frame = pd.read_csv(out) if fmt == "csv" else pd.read_parquet(out)
        rows = frame.to_dict("records")
    assert sorted(r["cell_id"] for r in rows) == sorted(records)
    for row in rows:
        stored = records[row["cell_id"]]
        assert spec_from_row(row).cell_id == row["cell_id"]  # the spec rebuilds from the row
        assert row["status"] == stored["status"]
        for key, value in flatten(stored["result"]).items():
            if isinstance(value, float):
                assert row[key] == pytest.approx(value, rel=1e-9)
            elif value is not None and not isinstance(value, str | bool):
                assert row[key] == value
            elif fmt == "jsonl":
                assert row[key] == value


def test_status_counts_by_suite_and_lists_failures(filled, capsys):
    path, _ = filled
    assert main(["status", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    assert "| (narrowed or tuned runs)" in out and "ok" in out and "host_oom" in out
    assert "2 failed cell(s)" in out
    assert "RuntimeError: broke" in out and "second line" not in out


def test_status_files_cells_of_no_suite_by_where_they_came_from(tmp_path, capsys):
    """A plugin method's cell and a search trial are counted apart from narrowed runs."""
    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.save(tiny_cell("no_such_plugin"), failure_record(RuntimeError("x")))
        store.save(tiny_cell("lora", trial=True), failure_record(RuntimeError("y")))
        store.save(tiny_cell("lora", seed=5), failure_record(RuntimeError("z")))
    assert main(["status", "--store", str(path)]) == 0
    out = capsys.readouterr().out
    for group in ("(plugin methods)", "(search trials)", "(narrowed or tuned runs)"):
        assert f"| {group}" in out and "| 1 " in out.split(group)[1].splitlines()[0]


def test_export_of_a_missing_store_is_refused(tmp_path, capsys):
    assert main(["export", "--store", str(tmp_path / "none.sqlite")]) == 2
    assert "no store" in capsys.readouterr().err
