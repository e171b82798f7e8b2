"""Executors: a two-worker local run and a local Ray run store the same results as one worker
(timings aside); a dead worker's cell is stored with its status while the others go on."""

from __future__ import annotations

import textwrap

import pytest

from bench.cli.main import main
from bench.core.registry import METHODS
from bench.execute.executors import cpu_slots, gpu_slots, largest_first
from bench.store.cell_store import Store
from tests.helpers import tiny_cell

BASE = ["--models", "config:tiny-bert", "--tasks", "synthetic_rule", "--seeds", "2"]
BASE += ["--train-size", "96"]
CELLS = [*BASE, "--methods", "bitfit,lora"]

DIE = textwrap.dedent(
    """
    import os, signal
    from bench.core.registry import register_method

    @register_method("die-at-once", family="test", lr=1e-3)
    def die(model, settings, ctx):
        os.kill(os.getpid(), signal.SIGKILL)
    """
)


def _results(path) -> dict[str, tuple]:
    """Per cell: status, metrics and predictions (what must not depend on the executor)."""
    with Store(path) as store:
        return {
            r["id"]: (
                r["status"],
                r["result"].get("metrics"),
                [(p["idx"], p["pred"]) for p in store.predictions(r["id"])],
            )
            for r in store.cells()
        }


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """The reference: the same cells, one worker process at a time, one thread each."""
    folder = tmp_path_factory.mktemp("one")
    store = folder / "s.sqlite"
    # one thread per cell, as each of two workers sharing two cores gets
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", "1")
        assert main(["run", *CELLS, "--store", str(store), "--out", str(folder)]) == 0
    return _results(store)


def test_two_local_workers_store_what_one_stores(one_worker, tmp_path, capsys):
    plugin = tmp_path / "die.py"
    plugin.write_text(DIE)
    store = tmp_path / "s.sqlite"
    args = ["run", *CELLS, "--workers", "2", "--store", str(store), "--out", str(tmp_path)]
    assert main(args) == 0
    assert "2 at a time" in capsys.readouterr().err
    assert _results(store) == one_worker
    # a worker that dies ends only its cell, stored with its status; the run says so (exit 1)
    died = ["run", *BASE, "--methods", "die-at-once,bitfit", "--plugin", str(plugin)]
    died += ["--workers", "2", "--store", str(store), "--out", str(tmp_path)]
    try:
        assert main(died) == 1
    finally:
        METHODS._entries.pop("die-at-once", None)  # the plugin registered it here too
    with Store(store) as s:
        statuses = {(r["spec"].method, r["spec"].seed): r["status"] for r in s.cells()}
    assert statuses[("bitfit", 1)] == "ok"
    assert {statuses[("die-at-once", seed)] for seed in (0, 1)} <= {"error", "host_oom"}


def test_a_local_ray_run_stores_what_one_worker_stores(one_worker, tmp_path):
    ray = pytest.importorskip("ray")
    try:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    except Exception as exc:  # noqa: BLE001 - a machine that cannot start Ray is not our bug
        pytest.skip(f"a local Ray instance could not start here: {exc}")
    try:
        store = tmp_path / "s.sqlite"
        args = ["run", *CELLS, "--executor", "ray", "--store", str(store), "--out", str(tmp_path)]
        assert main(args) == 0
    finally:
        ray.shutdown()
    assert _results(store) == one_worker


def test_cells_go_largest_estimate_first():
    small, big, unknown = tiny_cell("bitfit"), tiny_cell("full"), tiny_cell("lora")
    extra = {
        small.cell_id: {"estimate": {"peak_device_bytes": 10}},
        big.cell_id: {"estimate": {"peak_device_bytes": 99}},
    }
    assert largest_first([small, unknown, big], extra) == [big, small, unknown]


def test_slots_pin_gpus_and_share_the_cores():
    assert gpu_slots(["0", "GPU-abc"]) == [
        {"CUDA_VISIBLE_DEVICES": "0"},
        {"CUDA_VISIBLE_DEVICES": "GPU-abc"},
    ]
    assert cpu_slots(2, cores=16) == [{"OMP_NUM_THREADS": "8"}] * 2


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--gpus", "0,1"], "--gpus 0,1 needs --device cuda"),
        (["--workers", "0"], "--workers 0 is not allowed"),
        (["--address", "ray://x:10001"], "--address goes with --executor ray"),
        (["--workers", "2", "--in-process"], "--in-process runs one cell at a time"),
    ],
)
def test_executor_options_are_checked_before_training(extra, says, tmp_path, capsys):
    args = ["run", *CELLS, "--device", "cpu", "--store", str(tmp_path / "s.sqlite"), *extra]
    assert main(args) == 2
    assert says in " ".join(capsys.readouterr().err.split())
