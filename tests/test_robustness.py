"""Nothing lost, nothing twice: a driver killed mid-run leaves no worker behind and a rerun
stores each cell once; two runs on one store train each cell once; a foreign or corrupted
store is refused with the way out."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import psutil
import pytest

from bench.store.cell_store import SCHEMA_VERSION, Store, owner_alive, process_owner
from tests.conftest import TINY_BERT
from tests.helpers import tiny_cell

ROOT = Path(__file__).resolve().parents[1]

PLUGIN = textwrap.dedent(
    f"""
    import os, time
    from pathlib import Path
    from bench.models.sources import register_config_model
    from bench.core.registry import METHODS, register_method

    register_config_model("plug-bert", {TINY_BERT!r})
    LOG = Path(os.environ["FTBENCH_TEST_LOG"])

    def _log(name):
        with LOG.open("a") as handle:
            handle.write(f"{{name}} {{os.getpid()}}\\n")

    @register_method("counted", family="test", lr=1e-3)
    def counted(model, settings, ctx):
        _log(f"counted-{{ctx.seed}}")
        return METHODS.get("bitfit").apply(model, {{}}, ctx)

    @register_method("slow-once", family="test", lr=1e-3)
    def slow_once(model, settings, ctx):
        _log("slow-once")
        marker = LOG.with_suffix(".slept")
        if not marker.exists():
            marker.write_text(str(os.getpid()))
            time.sleep(600)  # killed before this ends
        return METHODS.get("bitfit").apply(model, {{}}, ctx)
    """
)


def _driver(tmp_path: Path, methods: str, seeds: int, *extra: str) -> subprocess.Popen:
    args = [
        sys.executable,
        str(ROOT / "run_all.py"),
        "run",
        "--plugin",
        str(tmp_path / "plugin.py"),
        "--models",
        "plug-bert",
        "--tasks",
        "synthetic_rule",
        "--methods",
        methods,
        "--seeds",
        str(seeds),
        "--train-size",
        "64",
        "--store",
        str(tmp_path / "s.sqlite"),
        "--out",
        str(tmp_path / "reports"),
        *extra,
    ]
    env = {**os.environ, "FTBENCH_TEST_LOG": str(tmp_path / "log.txt")}
    return subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _applied(tmp_path: Path) -> Counter:
    log = tmp_path / "log.txt"
    return (
        Counter(line.split()[0] for line in log.read_text().splitlines())
        if log.exists()
        else Counter()
    )


def _wait_for(path: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_kill_9_of_the_driver_leaves_no_worker_and_a_rerun_stores_each_cell_once(tmp_path):
    (tmp_path / "plugin.py").write_text(PLUGIN)
    driver = _driver(tmp_path, "counted,slow-once", 1)
    marker = tmp_path / "log.slept"
    _wait_for(marker, 240)
    time.sleep(0.5)  # the marker holds the worker's pid once written
    worker = int(marker.read_text())
    assert psutil.pid_exists(worker)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 10
    while psutil.pid_exists(worker) and psutil.Process(worker).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the killed driver's worker is still running"
        time.sleep(0.2)
    with Store(tmp_path / "s.sqlite") as store:
        assert [r["status"] for r in store.cells()] == ["ok"]  # the finished cell, once
        assert len(store.claims()) == 1  # the cell in flight, claimed by the dead driver

    rerun = _driver(tmp_path, "counted,slow-once", 1)
    assert rerun.wait(timeout=300) == 0, rerun.stderr.read()
    with Store(tmp_path / "s.sqlite") as store:
        cells = store.cells()
        assert sorted(r["spec"].method for r in cells) == ["counted", "slow-once"]
        assert {r["status"] for r in cells} == {"ok"} and store.claims() == []
    # the finished cell was not trained again; the killed one was, once more
    assert _applied(tmp_path) == Counter({"counted-0": 1, "slow-once": 2})


def test_two_runs_at_once_on_one_store_train_each_cell_once(tmp_path):
    (tmp_path / "plugin.py").write_text(PLUGIN)
    first = _driver(tmp_path, "counted", 4, "--in-process")
    second = _driver(tmp_path, "counted", 4, "--in-process")
    assert first.wait(timeout=400) == 0, first.stderr.read()
    assert second.wait(timeout=400) == 0, second.stderr.read()
    assert _applied(tmp_path) == Counter({f"counted-{seed}": 1 for seed in range(4)})
    with Store(tmp_path / "s.sqlite") as store:
        assert len(store.cells()) == 4 and store.claims() == []


def test_a_claim_of_a_live_owner_holds_and_of_a_dead_one_is_taken_over(tmp_path):
    cell = tiny_cell("bitfit").cell_id
    with Store(tmp_path / "s.sqlite") as store:
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        try:
            host, started = process_owner().split(":")[0], psutil.Process(other.pid).create_time()
            alive = f"{host}:{other.pid}:{started:.0f}"
            assert owner_alive(alive)
            assert store.claim(cell, owner=alive)
            assert not store.claim(cell)  # a live run holds it
        finally:
            other.kill()
            other.wait()
        assert not owner_alive(alive)
        assert store.claim(cell)  # its owner died: taken over
        store.release(cell)
        assert store.claims() == []


def test_a_store_of_a_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "s.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION + 1),))
    with pytest.raises(ValueError, match="newer ftbench. Update this checkout"):
        Store(path)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT value FROM meta").fetchone()[0] == str(SCHEMA_VERSION + 1)


def test_a_corrupted_store_is_refused_with_the_way_out(tmp_path):
    from bench.cli.main import main

    path = tmp_path / "s.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(ValueError, match="not a readable ftbench store.*move it aside"):
        Store(path)
    assert path.read_bytes() == b"this is not a database" * 100
    assert main(["status", "--store", str(path)]) == 2


def test_worker_watchdog_ends_an_orphan(tmp_path):
    """die_with_parent: a process whose driver is gone exits (pid 1 did not start at 0)."""
    code = textwrap.dedent(
        """
        import os, sys, time
        from bench.execute.worker import die_with_parent
        die_with_parent(int(sys.argv[1]), 0.0)
        time.sleep(30)
        sys.exit(0)
        """
    )
    child = subprocess.run(
        [sys.executable, "-c", code, "1"], cwd=ROOT, timeout=20, capture_output=True
    )
    assert child.returncode == 1  # that driver is gone: it ends at once
