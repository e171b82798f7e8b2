"""The timing pass: configurations interleaved round by round, each window stored with the
machine's load; speed ratios per round with their spread, contended rounds left out."""

from __future__ import annotations

import dataclasses
import time

import pytest

from bench.cli.main import main
from bench.meters.load import Load, LoadMeter
from bench.stats.configurations import configuration_key
from bench.store.cell_store import Store
from bench.timing.interleaved import representatives, timing_pass
from bench.timing.ratios import side_by_side, timed_step
from tests.helpers import tiny_cell

QUIET = Load(window_s=1.0, others_cpu_s=0.01, steal_s=0.0, cores=2)
BUSY = Load(window_s=1.0, others_cpu_s=0.8, steal_s=0.0, cores=2)


def test_the_load_meter_counts_other_processes_and_flags_contention():
    """A child process that spins while the window is open is other processes' CPU time."""
    import subprocess
    import sys

    meter = LoadMeter().start()
    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<1.0: pass"]
    )
    time.sleep(1.2)
    load = meter.stop()
    spinner.wait()
    # the child is ours once waited for, but it was not when the window closed
    assert load.others_cpu_s > 0.5 and load.contended
    assert QUIET.contended is False and BUSY.contended is True
    assert Load(1.0, 0.0, 0.2, 2).contended  # steal alone contends too
    assert set(load.to_dict()) >= {"window_s", "others_cpu_s", "steal_s", "contended"}


def test_a_pass_interleaves_configurations_and_stores_every_window(tmp_path):
    cells = [tiny_cell(m, seed=s) for m in ("full", "lora", "bitfit") for s in (0, 1)]
    configs = representatives(cells)
    assert [c.method for c in configs] == ["full", "lora", "bitfit"]
    assert {c.seed for c in configs} == {0}  # one cell (the lowest seed) per configuration
    order, speed = [], {"full": 3.0, "lora": 2.0, "bitfit": 1.5}

    def fake(spec, steps):
        order.append(spec.method)
        busy = spec.method == "lora" and len(order) == 5  # round 2's lora window is contended
        return [speed[spec.method]] * steps, BUSY if busy else QUIET

    with Store(tmp_path / "s.sqlite") as store:
        windows = timing_pass(
            cells, rounds=3, steps=4, timer=fake, on_window=lambda w: store.save_timing(w.to_row())
        )
        stored = store.timings()
    assert order == ["full", "lora", "bitfit"] * 3  # A, B, C, A, B, C, ...
    assert len(windows) == len(stored) == 9 and {w["pass_id"] for w in stored} == {
        windows[0].pass_id
    }
    full, lora = configuration_key(configs[0]), configuration_key(configs[1])
    ratio = side_by_side(stored, lora, full)
    assert ratio.ratio == pytest.approx(1.5) and ratio.rounds == 2 and ratio.contended == 1
    assert "1.50 [1.50-1.50] (2 rounds side by side, 1 contended round(s) left out)" == ratio.text()
    other = dataclasses.replace(configs[1], lr=0.5)
    assert side_by_side(stored, configuration_key(other), full) is None  # never timed together


def test_a_pass_needs_two_rounds_and_two_steps():
    with pytest.raises(ValueError, match="rounds 1"):
        timing_pass([tiny_cell()], rounds=1)
    with pytest.raises(ValueError, match="steps 1"):
        timing_pass([tiny_cell()], steps=1)


def test_a_real_pass_times_tiny_cells_and_the_report_shows_the_ratio(tmp_path, capsys):
    """`time` on a real (tiny) suite: every window stored; a report then takes the speed
    ratio from the pass, not from the cells' own runs."""
    from bench.core.spec import MethodChoice, SuiteSpec
    from bench.execute.runner import run_cells
    from bench.plan.suites import SUITES, expand, register_suite
    from bench.report.suite_page import suite_report

    name = "timing-test"
    if name not in SUITES:
        register_suite(
            SuiteSpec(
                name=name,
                models=("tiny-bert",),
                tasks=("synthetic_rule",),
                methods=(MethodChoice("full"), MethodChoice("lora")),
                seeds=(0, 1),
                budget={"train_size": 64, "max_length": 32, "batch_size": 8, "max_steps": 12},
            )
        )
    store_path = tmp_path / "s.sqlite"
    argv = ["time", "--suite", name, "--rounds", "2", "--steps", "2", "--device", "cpu"]
    assert main([*argv, "--store", str(store_path)]) == 0
    out = capsys.readouterr().out
    assert "x speed vs full" in out and "rounds side by side" in out
    cells = expand(SUITES.get(name), "cpu")
    with Store(store_path) as store:
        assert len(store.timings()) == 4
        run_cells(cells, store, in_process=True)
        page = suite_report(SUITES.get(name), cells, store, "test")
    lora_row = next(line for line in page.splitlines() if line.startswith("| lora "))
    assert "rounds side by side" in lora_row and "(separate runs)" not in lora_row


def test_time_refuses_one_round_before_anything_runs(tmp_path, capsys):
    assert main(["time", "--rounds", "1", "--store", str(tmp_path / "s.sqlite")]) == 2
    assert "--rounds 1" in capsys.readouterr().err
    assert not (tmp_path / "s.sqlite").exists()


def test_a_configurations_step_time_is_its_latest_passs_clean_rounds():
    def window(pass_id: str, round_: int, config: str, times: list[float], busy: bool) -> dict:
        return {
            "pass_id": pass_id,
            "round": round_,
            "config": config,
            "step_times": times,
            "load": {"contended": busy},
        }

    windows = [
        window("old", 0, "a", [9.0, 9.0], False),
        window("new", 0, "a", [1.0, 3.0], False),  # median 2
        window("new", 1, "a", [50.0], True),  # contended: left out
        window("new", 2, "a", [4.0], False),
        window("new", 0, "b", [5.0], True),
    ]
    assert timed_step(windows, "a") == 3.0  # the median of 2 and 4
    assert timed_step(windows, "b") is None  # its only window was contended
    assert timed_step(windows, "c") is None
