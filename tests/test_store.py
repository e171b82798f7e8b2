import sqlite3

import pytest

from bench.execute.runner import run_cells
from bench.store.cell_store import Store
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
    assert len(store.cells()) == 1 == store.count()


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


def test_generation_rows_keep_their_text_and_float_labels(store):
    spec = tiny_cell()
    rows = [
        {"idx": 0, "label": 2, "pred": 0.25, "score": 3.1, "extra": {"generated": "hi", "x": [1]}},
        {"idx": 1, "label": 4.5, "pred": 3.75, "score": None},
    ]
    store.save(spec, _record(predictions=rows))
    assert store.predictions(spec.cell_id) == rows


def test_a_schema_1_store_is_migrated_in_place(tmp_path):
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE cells (id TEXT PRIMARY KEY, spec TEXT NOT NULL, model TEXT NOT NULL,
            task TEXT NOT NULL, method TEXT NOT NULL, seed INTEGER NOT NULL,
            device TEXT NOT NULL, status TEXT NOT NULL, error TEXT, result TEXT, env TEXT,
            split_hash TEXT, wall_s REAL, finished_at TEXT NOT NULL);
        CREATE TABLE predictions (cell_id TEXT NOT NULL, idx INTEGER NOT NULL,
            label INTEGER NOT NULL, pred INTEGER NOT NULL, score REAL,
            PRIMARY KEY (cell_id, idx));
        INSERT INTO predictions VALUES ('c', 0, 1, 1, 0.5);
        """
    )
    conn.commit()
    conn.close()
    with Store(path) as store:
        assert store.predictions("c") == [{"idx": 0, "label": 1, "pred": 1, "score": 0.5}]
        spec = tiny_cell()
        store.save(spec, _record())
        assert len(store.predictions(spec.cell_id)) == 2
    with Store(path) as store:  # reopening a migrated store does nothing more
        assert store.predictions("c")[0]["score"] == 0.5


def test_reading_a_store_leaves_its_file_as_it_was(tmp_path):
    """`report` on the committed snapshot must not change it (git status stays clean)."""
    import hashlib
    import sqlite3

    from bench.store.cell_store import Store
    from tests.helpers import tiny_cell

    path = tmp_path / "s.sqlite"
    with Store(path) as store:
        store.save(tiny_cell("bitfit"), {"status": "error", "error": "x"})
    with sqlite3.connect(path) as conn:  # as a store written before claims existed
        conn.execute("DROP TABLE IF EXISTS claims")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with Store(path) as store:
        assert len(store.cells()) == 1 and store.claims() == []
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_runs_that_create_one_store_at_the_same_moment_all_open_it(tmp_path):
    """The race CI met: two first runs on one new store both inserted its schema version and
    the second called the store unreadable. Eight processes open it at one instant here."""
    import subprocess
    import sys
    import time

    path = tmp_path / "new.sqlite"
    start = time.time() + 2.0  # after every interpreter has started
    code = (
        "import sys, time\n"
        "from bench.store.cell_store import Store\n"
        f"while time.time() < {start}: time.sleep(0.001)\n"
        f"Store({str(path)!r}).close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    errors = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    with Store(path) as store:
        assert store.cells() == []
