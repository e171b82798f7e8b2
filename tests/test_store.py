import sqlite3

import pytest

from bench.runner import run_cells
from bench.store import Store
from tests.helpers import tiny_cell


def _record(status="ok", **extra):
    return {
        "status": status,
        "params": {"trainable_params": 5},
        "wall_s": 1.5,
        "data": {"split_hash": "abc"},
        "env": {"python": "3"},
        "predictions": [
            {"idx": 0, "label": 1, "pred": 1, "score": 0.9},
            {"idx": 1, "label": 0, "pred": 2, "score": 0.5},
        ],
        **extra,
    }


def test_round_trip(store):
    spec = tiny_cell()
    store.save(spec, _record())
    row = store.get(spec.cell_id)
    assert row["spec"] == spec and row["status"] == "ok"
    assert row["result"]["params"] == {"trainable_params": 5}
    assert row["env"] == {"python": "3"} and row["split_hash"] == "abc"
    assert store.predictions(spec.cell_id) == [
        {"idx": 0, "label": 1, "pred": 1, "score": 0.9},
        {"idx": 1, "label": 0, "pred": 2, "score": 0.5},
    ]
    assert store.has_ok(spec.cell_id)


def test_replacing_a_failed_cell_replaces_its_predictions(store):
    spec = tiny_cell()
    store.save(spec, {"status": "error", "error": "boom"})
    assert store.status(spec.cell_id) == "error" and not store.has_ok(spec.cell_id)
    assert store.get(spec.cell_id)["error"] == "boom"
    store.save(spec, _record())
    assert store.status(spec.cell_id) == "ok" and len(store.predictions(spec.cell_id)) == 2
    assert len(store.cells()) == 1


def test_bad_status_is_refused_and_nothing_is_written(store):
    with pytest.raises(ValueError, match="status 'fine' is not one of"):
        store.save(tiny_cell(), _record(status="fine"))
    assert store.cells() == []


def test_failed_write_leaves_no_half_row(store):
    bad = _record()
    bad["predictions"] = [{"idx": 0, "label": 1, "pred": 1}, {"idx": 0, "label": 1, "pred": 1}]
    with pytest.raises(sqlite3.IntegrityError):
        store.save(tiny_cell(), bad)  # duplicate prediction index: the transaction rolls back
    assert store.cells() == []


def test_wal_mode_and_reopen(tmp_path):
    path = tmp_path / "s.sqlite"
    with Store(path) as s:
        s.save(tiny_cell(), _record())
        mode = s._conn.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    with Store(path) as s:
        assert s.has_ok(tiny_cell().cell_id)


def test_stored_ok_cells_are_skipped(store):
    cells = [tiny_cell("full"), tiny_cell("bitfit")]
    first = run_cells(cells, store, in_process=True)
    assert [s for _, s in first.ran] == ["ok", "ok"] and not first.skipped
    second = run_cells(cells, store, in_process=True)
    assert second.ran == [] and second.skipped == cells
