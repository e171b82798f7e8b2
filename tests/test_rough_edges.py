"""Bad input as a new user types it: each refused with exit 2 before anything runs, the reason
in one line naming the value, no traceback, and the store left byte for byte as it was."""

from __future__ import annotations

import hashlib
import textwrap

import pytest

from bench.cli.main import main
from bench.core.registry import METHODS
from bench.store.cell_store import Store
from tests.helpers import tiny_cell

PLUGINS = {
    "syntax.py": "def broken(:\n",
    "imports.py": "import no_such_module_anywhere\n",
    "twice.py": textwrap.dedent(
        """
        from bench.core.registry import register_method

        @register_method("lora", family="test", lr=1e-3)
        def again(model, settings, ctx):
            return model
        """
    ),
}
BASE = ["--models", "config:tiny-bert", "--tasks", "synthetic_rule", "--seeds", "1"]

CASES = [
    # (arguments, words the one-line reason holds)
    (["run", *BASE, "--dry-run", "--set", "rr=0"], ["'rr'", "no method of this run"]),
    (["run", *BASE, "--dry-run", "--set", "r=0"], ["r=0", "an integer >= 1"]),
    (["run", *BASE, "--methods", "full,lora", "--dry-run", "--set", "r=0"], ["lora", "r=0"]),
    (["run", "--methods"], ["--methods", "expected one argument", "--help"]),
    (["run", *BASE, "--dry-run", "--max-length", "1000"], ["max_length 1000", "128 positions"]),
    (["run", "--dry-run", "--max-length", "100000"], ["minilm's 512 positions"]),
    (["run", *BASE, "--workers", "0"], ["--workers 0", ">= 1"]),
    (["run", *BASE, "--dry-run", "--train-size", "900"], ["--train-size 900", "has 900"]),
    (["run", *BASE, "--dry-run", "--train-size", "10000000"], ["10000000", "below 900"]),
    (["run", *BASE, "--dry-run", "--shots", "100000"], ["--shots 100000", "rarest class"]),
    (
        ["run", *BASE[:2], "--tasks", "synthetic_reverse", "--dry-run", "--shots", "4"],
        ["generation"],
    ),
    (["check", "--method", "lora", "--baselines", "nosuch"], ["--baselines", "'nosuch'"]),
    (["run", *BASE, "--dry-run", "--plugin", "{tmp}/syntax.py"], ["syntax.py", "(line 1)"]),
    (["run", *BASE, "--dry-run", "--plugin", "{tmp}/imports.py"], ["imports.py", "no_such"]),
    (["run", *BASE, "--dry-run", "--plugin", "{tmp}/twice.py"], ["twice.py", "twice"]),
]


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(("args", "words"), CASES, ids=[" ".join(c[0][:4]) for c in CASES])
def test_bad_input_is_refused_in_one_line_and_leaves_the_store_alone(tmp_path, capsys, args, words):
    for name, text in PLUGINS.items():
        (tmp_path / name).write_text(text)
    store = tmp_path / "s.sqlite"
    with Store(store) as opened:
        opened.save(tiny_cell("full"), {"status": "error", "error": "an old failure"})
    before = _sha(store)
    argv = [a.format(tmp=tmp_path) for a in args] + ["--store", str(store)]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)
    assert _sha(store) == before
    assert "lora" in METHODS and METHODS.get("lora").family == "reparametrization"


def test_a_dry_run_creates_no_store(tmp_path, capsys):
    store = tmp_path / "none.sqlite"
    assert main(["run", *BASE, "--dry-run", "--store", str(store)]) == 0
    assert not store.exists()
    assert "tiny-bert" in capsys.readouterr().out


def test_ctrl_c_is_one_line_and_exit_130(tmp_path, capsys, monkeypatch):
    def interrupted(*args: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("bench.cli.export.cmd_status", interrupted)
    assert main(["status", "--store", str(tmp_path / "s.sqlite")]) == 130
    err = capsys.readouterr().err
    assert "interrupted" in err and "Traceback" not in err


def test_status_shows_the_cells_in_flight(tmp_path, capsys):
    store = tmp_path / "s.sqlite"
    cell = tiny_cell("full")
    with Store(store) as opened:
        assert opened.claim(cell.cell_id, owner="otherhost:1:1")
    assert main(["status", "--store", str(store)]) == 0
    out = capsys.readouterr().out
    assert "1 cell(s) in flight" in out and cell.cell_id in out and "otherhost:1:1" in out


def test_a_read_only_store_is_reported_exported_and_inspected(tmp_path, capsys):
    """report, status and export open the store for reading alone: nothing in it changes, and
    a write through such a store is refused by SQLite itself."""
    import sqlite3

    store = tmp_path / "s.sqlite"
    cell = tiny_cell("full")
    with Store(store) as opened:
        opened.save(cell, {"status": "error", "error": "an old failure"})
    before = _sha(store)
    with Store(store, read_only=True) as reading:
        assert reading.status(cell.cell_id) == "error"
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reading.save(cell, {"status": "ok"})
    out = tmp_path / "out"
    for args in (
        ["report", "--out", str(out)],
        ["status"],
        ["export", "--output", str(tmp_path / "cells.csv")],
    ):
        assert main([*args, "--store", str(store)]) == 0, args
    assert _sha(store) == before
    assert "1 cells written" in capsys.readouterr().err


def test_output_piped_into_head_ends_quietly():
    """`python run_all.py list methods | head -1`: the closed pipe is no traceback."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    pipeline = f"{sys.executable} run_all.py list methods | head -1"
    out = subprocess.run(
        ["bash", "-o", "pipefail", "-c", pipeline], cwd=root, capture_output=True, text=True
    )
    assert out.returncode == 0 and out.stdout.startswith("| name")
    assert "Traceback" not in out.stderr and "BrokenPipe" not in out.stderr, out.stderr
