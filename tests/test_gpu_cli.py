"""`list gpus`, `estimate`, `--gpu NAME --dry-run` without a GPU, and wont_fit cells."""

from __future__ import annotations

import json

import pytest
import torch

from bench.cli import gpu as gpu_run
from bench.cli.main import main
from bench.hardware.gpus import GPUS, DetectedGpu, GpuProfile
from bench.plan.placement import Placement
from bench.store.cell_store import Store

GIB = 2**30


@pytest.fixture(autouse=True)
def _estimates_in_tmp(tmp_path, monkeypatch):
    """Each test computes its estimates afresh (none from an earlier run's disk cache)."""
    monkeypatch.setenv("FTBENCH_CACHE", str(tmp_path / "cache"))


def test_list_gpus_shows_every_profile(capsys):
    assert main(["list", "gpus"]) == 0
    out = capsys.readouterr().out
    for name in ("rtx-4090", "rtx-3090", "a100-80gb", "h100-sxm", "h100-pcie", "h200", "t4"):
        assert name in out
    assert "12 GPU profiles" in out and "data sheet" in out


def test_estimate_json_has_the_peaks_and_their_components(capsys):
    args = ["estimate", "--model", "llama-2-7b", "--method", "LoRA", "--json", "--gpu", "4090"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["peak_allocated_bytes"] == sum(out["components"].values())
    assert out["peak_device_bytes"] > out["peak_allocated_bytes"]
    assert set(out["components"]) == {
        "weights",
        "gradients",
        "optimizer_states",
        "activations_and_temporaries",
    }
    assert (out["model"], out["method"], out["batch_size"], out["max_length"]) == (
        "Llama-2-7B",
        "lora",
        4,
        512,
    )
    assert out["verdict"] == "wont_fit"  # 4 x 512 without checkpointing: about 27 GB
    assert main(args + ["--grad-checkpointing"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "fits"


def test_estimate_needs_a_model_and_a_method_or_a_gpu(capsys):
    assert main(["estimate", "--model", "gpt2"]) == 2
    assert "--method" in capsys.readouterr().err
    assert main(["estimate"]) == 2
    assert "--gpu NAME" in capsys.readouterr().err


def test_estimate_reads_a_task_for_its_kind_and_labels(capsys):
    args = ["estimate", "--model", "tiny-bert", "--method", "full", "--task", "bbc_news"]
    assert main(args + ["--precision", "fp32", "--max-length", "64", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["task_kind"] == "classification" and out["precision"] == "fp32"
    assert main(args) == 2  # 512 tokens by default
    assert "max_length 512 exceeds tiny-bert's 128 positions" in capsys.readouterr().err


def test_gpu_dry_run_plans_the_profile_without_a_gpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bench.plan.placement.detect_gpus", lambda: [])
    store = str(tmp_path / "s.sqlite")
    args = ["--gpu", "4090", "--dry-run", "--models", "config:Llama-2-7B", "--store", store]
    assert main(args + ["--methods", "lora,qlora"]) == 0
    captured = capsys.readouterr()
    rows = [line for line in captured.out.splitlines() if "config:Llama-2-7B" in line]
    assert len(rows) == 4  # two methods, with and without gradient checkpointing
    verdicts = {("qlora" in r, "grad-ckpt" in r): r.split("|")[3].strip() for r in rows}
    assert verdicts == {
        (False, False): "wont_fit",
        (False, True): "fits",
        (True, False): "fits",
        (True, True): "fits",
    }
    assert "4 cells for GeForce RTX 4090" in captured.err and "no GPU here" in captured.err


def test_a_real_gpu_run_without_a_gpu_exits_2_and_says_how(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bench.plan.placement.detect_gpus", lambda: [])
    assert main(["--gpu", "4090", "--store", str(tmp_path / "s.sqlite")]) == 2
    err = capsys.readouterr().err
    assert "no NVIDIA GPU" in err and "--dry-run" in err and "estimate --gpu" in err


@pytest.fixture
def tiny_card(monkeypatch):
    """A 1 MiB profile, placed as if its card were present: every cell is wont_fit."""
    profile = GpuProfile(
        "test-card", "Test card 1 MiB", 2**20, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, r"Test card", "test"
    )
    GPUS.add(profile.name, profile)
    card = DetectedGpu(0, "Test card", 2**20, "GPU-test", profile)
    monkeypatch.setattr(
        gpu_run,
        "place",
        lambda gpu, emulate, dry_run: Placement(profile, profile.name, card, False),
    )
    yield profile
    GPUS.remove(profile.name)


def test_wont_fit_cells_are_stored_skipped_on_rerun_and_forced(tmp_path, capsys, tiny_card):
    store_path = tmp_path / "s.sqlite"
    args = ["run", "--gpu", "test-card", "--suite", "smoke", "--seeds", "1", "--in-process"]
    args += ["--store", str(store_path), "--out", str(tmp_path / "reports")]
    assert main(args) == 0
    with Store(store_path) as store:
        first = {r["id"]: r for r in store.cells()}
    assert len(first) == 2 and {r["status"] for r in first.values()} == {"wont_fit"}
    for row in first.values():
        assert "Test card 1 MiB" in row["error"] and "--force" in row["error"]
        estimate = row["result"]["estimate"]
        assert estimate["verdict"] == "wont_fit" and estimate["peak_device_bytes"] > 2**20
        spec = row["spec"]
        assert (spec.gpu, spec.card, spec.device) == ("test-card", "test-card", "cuda")
    report = (tmp_path / "reports" / "smoke-test-card.md").read_text()
    assert "Estimated against measured peak memory" in report and "wont_fit" in report
    (tmp_path / "reports" / "smoke-test-card.md").unlink()
    assert main(["report", "--store", str(store_path), "--out", str(tmp_path / "reports")]) == 0
    regenerated = (tmp_path / "reports" / "smoke-test-card.md").read_text()
    assert "Estimated against measured peak memory" in regenerated  # `report` finds GPU cells
    capsys.readouterr()
    assert main(args) == 0  # rerun: nothing trained, nothing rewritten
    with Store(store_path) as store:
        again = {r["id"]: r for r in store.cells()}
    assert {k: r["finished_at"] for k, r in again.items()} == {
        k: r["finished_at"] for k, r in first.items()
    }
    # forced: trained now; on a machine without CUDA each fails, and the run says so (exit 1)
    assert main(args + ["--force"]) == (0 if torch.cuda.is_available() else 1)
    with Store(store_path) as store:
        forced = {r["id"]: r for r in store.cells()}
    assert set(forced) == set(first)
    for row in forced.values():  # trained now: on this CPU machine it fails for want of CUDA
        assert row["status"] != "wont_fit"
        assert row["status"] == "ok" or "CUDA" in row["error"]
        assert row["result"]["estimate"]["verdict"] == "wont_fit"


def test_estimate_gpu_prints_the_profiles_plan_as_json(capsys, monkeypatch):
    from bench.plan.suites import SUITES

    monkeypatch.setattr("bench.cli.estimate.profile_suites", lambda p: [SUITES.get("smoke")])
    assert main(["estimate", "--gpu", "4090", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 6  # smoke: 2 methods x 3 seeds
    assert {r["verdict"] for r in rows} == {"fits"}
    assert {r["spec"]["gpu"] for r in rows} == {"rtx-4090"}
    assert all(r["peak_device_bytes"] > r["peak_allocated_bytes"] > 0 for r in rows)


def test_hub_encoders_are_planned_from_their_shipped_configs(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("bench.plan.placement.detect_gpus", lambda: [])
    args = ["--gpu", "4090", "--suite", "gpu-encoders-hub", "--dry-run", "--methods", "lora"]
    args += ["--seeds", "1", "--tasks", "glue_rte", "--store", str(tmp_path / "s.sqlite")]
    assert main(args) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if "hub:" in line]
    assert len(rows) == 3 and all("| fits " in r for r in rows)  # nothing downloaded
