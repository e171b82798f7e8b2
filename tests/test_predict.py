"""Published references and the predictions beside them: the shipped file loads, a bad row is
refused by name, the counters and both other tools' figures by hand, and `predict` writes a
page whose per-row command gives the same figure."""

from __future__ import annotations

import json

import pytest
import torch

from bench.cli.main import main
from bench.plan.estimate import ALLOCATOR_CACHE_FRACTION, Estimate
from bench.predict.llama_factory import llama_factory_bytes
from bench.predict.memory import accelerate_training_bytes, in_counter
from bench.predict.references import load_references


def build_from_config_model(name: str) -> torch.nn.Module:
    """A registered tiny model with real (random) weights, as a cell builds it."""
    from transformers import AutoConfig

    from bench.models.sources import build_from_config
    from bench.plan.meta_model import config_for

    raw = dict(config_for(name))
    torch.manual_seed(0)
    return build_from_config(AutoConfig.for_model(raw.pop("model_type"), **raw), "generation", 2)


TINY_ROW = """
[[reference]]
id = "tiny-lora"
source = "a test"
url = "https://example.invalid/tiny"
commit = "0000000"
card = "4090"
counter = "{counter}"
model = "tiny-llama"
method = "lora"
settings = {{ r = 4, alpha = 8, dropout = 0.0, targets = ["q", "v"] }}
precision = "bf16"
optimizer = "adamw"
grad_checkpointing = false
batch_size = 2
seq_len = 16
memory_gib = 0.001
role = "held-out"
"""


def test_the_shipped_references_load_with_valid_rows():
    refs = load_references()
    assert len({r.id for r in refs}) == len(refs) >= 10
    assert {r.card for r in refs} >= {"rtx-4090", "l40s"}  # aliases resolved to profiles
    lora = next(r for r in refs if r.id == "peft-llama3.2-3b-lora-r32")
    assert lora.settings["targets"] == ("q", "v") and lora.step_s == pytest.approx(942.0 / 5000)


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("card", "rtx-9999", "rtx-4090"),
        ("counter", "peak", "reserved"),
        ("optimizer", "lion", "adamw-fused"),
        ("memory_gib", "-1.0", "above 0"),
    ],
)
def test_a_bad_reference_is_refused_naming_the_value_and_the_valid_ones(
    tmp_path, field, value, named
):
    text = TINY_ROW.format(counter="reserved")
    old = next(line for line in text.splitlines() if line.startswith(f"{field} ="))
    shown = value if field == "memory_gib" else f'"{value}"'
    path = tmp_path / "refs.toml"
    path.write_text(text.replace(old, f"{field} = {shown}"))
    with pytest.raises(ValueError, match=f"'tiny-lora'.*{field}") as raised:
        load_references(path)
    assert named in str(raised.value)


def test_an_unknown_field_is_refused(tmp_path):
    path = tmp_path / "refs.toml"
    path.write_text(TINY_ROW.format(counter="reserved") + "gpu_hours = 3\n")
    with pytest.raises(ValueError, match="unknown field.*gpu_hours"):
        load_references(path)


def _estimate(allocated: int, device: int) -> Estimate:
    return Estimate(
        "m", "lora", {}, "bf16", "adamw", False, 1, 8, "generation", allocated, device, {}, 0, 1, 2
    )


def test_each_counter_is_derived_from_the_traced_peak():
    est = _estimate(1000 * 2**20, 2000 * 2**20)
    assert in_counter(est, "allocated")[0] == in_counter(est, "active")[0] == 1000 * 2**20
    reserved, how = in_counter(est, "reserved")
    assert reserved == int(1000 * 2**20 * (1 + ALLOCATOR_CACHE_FRACTION)) and "cache" in how
    assert in_counter(est, "device")[0] == 2000 * 2**20


def test_the_other_tools_figures_by_hand():
    # accelerate: Adam in bf16 mixed precision needs twice the fp32 size (its optimizer
    # states), in fp32 four times; LLaMA-Factory: 2 GB per billion for LoRA, 8 pure bf16.
    assert accelerate_training_bytes(10**9, "bf16") == 8 * 10**9
    assert accelerate_training_bytes(10**9, "fp32") == 16 * 10**9
    assert llama_factory_bytes("lora", "bf16", 7 * 10**9) == 14 * 10**9
    assert llama_factory_bytes("full", "bf16", 7 * 10**9) == 56 * 10**9
    assert llama_factory_bytes("qlora", "bf16", 8 * 10**9) == 4 * 10**9
    assert llama_factory_bytes("ia3", "bf16", 10**9) is None  # no row in its table


def test_predict_writes_the_page_and_its_command_gives_the_same_figure(tmp_path, capsys):
    refs = tmp_path / "refs.toml"
    refs.write_text(TINY_ROW.format(counter="allocated"))
    out = tmp_path / "reports"
    assert main(["predict", "--references", str(refs), "--out", str(out)]) == 0
    page = (out / "predictions.md").read_text()
    assert "[tiny-lora](https://example.invalid/tiny)" in page and "Summary" in page
    command = next(line for line in page.splitlines() if line.startswith("- `tiny-lora`: `"))
    argv = command.split(": `", 1)[1].rstrip("`").split()[2:]  # after `python run_all.py`
    capsys.readouterr()
    assert main(["predict", "--references", str(refs), "--json"]) == 0
    predicted = json.loads(capsys.readouterr().out)[0]
    assert main([*argv, "--json"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert predicted["predicted_gib"] == single["peak_allocated_bytes"] / 2**30
    assert main(["predict", "--references", str(refs), "--only", "nope"]) == 2


def test_op_costs_count_flops_as_flop_counter_mode_and_bytes_by_hand():
    from torch.utils.flop_counter import FlopCounterMode

    from bench.plan.op_costs import OpCosts, totals

    a, b = torch.empty(64, 32, device="meta"), torch.empty(32, 16, device="meta")
    x = torch.empty(1000, device="meta")
    with OpCosts() as costs:
        a @ b
        x + x
        x.view(10, 100)  # a view moves nothing
    assert totals(costs.table, "matmul") == [2 * 64 * 32 * 16, (64 * 32 + 32 * 16 + 64 * 16) * 4, 1]
    assert totals(costs.table, "memory") == [0, 3 * 1000 * 4, 1]

    from bench.plan.estimate import flash_attention

    model = build_from_config_model("tiny-llama")
    ids = torch.zeros(2, 16, dtype=torch.long)
    with flash_attention(), OpCosts() as costs:  # attention through the kernel estimates use
        model(input_ids=ids, labels=ids).loss.backward()
    with flash_attention(), FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    # torch's formulas for the GEMMs; its registry has no CPU flash attention, counted apart
    assert totals(costs.table, "matmul")[0] == counter.get_total_flops()
    layers, heads, head_dim = 2, 4, 8
    gemm = 2 * 2 * heads * 16 * 16 * head_dim  # one (2, 4, 16, 8) x (2, 4, 8, 16) product
    # forward: QK^T and AV; backward: QK^T again (flash recomputes it), dP, dQ, dK and dV
    assert totals(costs.table, "attention")[0] == layers * (2 * gemm + 5 * gemm)


def test_the_roofline_by_hand_on_a_fake_card():
    from bench.hardware.gpus import GpuProfile
    from bench.predict.step_time import Efficiency, TimedRow, fit_efficiency, step_time

    card = GpuProfile("fake", "Fake", 2**34, 100.0, 100.0, 50.0, 25.0, 1000.0, 400.0, "Fake", "t")
    table = {
        "forward": {"matmul@8": [2e12, 1e9, 10], "memory@-": [0.0, 4e9, 100]},
        "backward": {"matmul@8": [4e12, 2e9, 20]},
    }
    eff = Efficiency(matmul=0.5, memory=0.8, launch_s=1e-5)
    got = step_time(table, card, "bf16", 4096, eff, checkpointing=False)
    compute = 6e12 / (100e12 * 0.5)  # the GEMMs are compute-bound here
    traffic = 4e9 / (1000e9 * 0.8)
    assert got.step_s == pytest.approx(compute + traffic)  # 100 launches take 1 ms: hidden
    tiny = {"optimizer step": {"memory@-": [0.0, 1e6, 1000]}}  # 1,000 kernels of 1 KB
    assert step_time(tiny, card, "bf16", 1, eff).step_s == pytest.approx(1000 * 1e-5)
    assert got.tokens_per_s == pytest.approx(4096 / got.step_s)
    assert got.mfu == pytest.approx(6e12 / (got.step_s * 100e12))
    assert got.energy_j_per_token == pytest.approx(400.0 * got.step_s / 4096)
    # the fit recovers the efficiencies that made the throughputs
    truth = Efficiency(matmul=0.4, memory=0.7)
    rows = []
    for scale, memory in ((1.0, 4e9), (0.2, 40e9), (3.0, 1e9)):
        costs = {"forward": {"matmul@8": [6e12 * scale, 3e9, 0], "memory@-": [0.0, memory, 0]}}
        made = step_time(costs, card, "bf16", 4096, truth)
        rows.append(TimedRow(costs, card, "bf16", 4096, False, made.tokens_per_s))
    fitted = fit_efficiency(rows)
    assert fitted.matmul == pytest.approx(0.4, rel=0.02)
    assert fitted.memory == pytest.approx(0.7, rel=0.02)


def _keep_fit(monkeypatch, tmp_path, **values):
    from bench.predict import step_time

    path = tmp_path / "efficiency.json"
    monkeypatch.setattr(step_time, "FITTED", path)
    if values:
        step_time.save_efficiency(step_time.Efficiency(**values), ["row"], "test")
    return path


def test_estimate_json_carries_the_predicted_time_once_a_fit_is_kept(monkeypatch, tmp_path, capsys):
    argv = ["estimate", "--model", "tiny-llama", "--method", "lora", "--max-length", "32"]
    argv += ["--gpu", "4090", "--json"]
    _keep_fit(monkeypatch, tmp_path)  # none kept: memory only, no invented time
    assert main(argv) == 0
    assert "predicted_step_s" not in json.loads(capsys.readouterr().out)
    _keep_fit(monkeypatch, tmp_path, matmul=0.5, memory=0.8)
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    tokens = out["batch_size"] * out["max_length"]
    assert out["predicted_tokens_per_s"] == pytest.approx(tokens / out["predicted_step_s"])
    assert out["predicted_energy_j_per_token"] == pytest.approx(
        450 * out["predicted_step_s"] / tokens
    )
    assert 0 < out["predicted_mfu"] < 1


def test_plan_totals_add_the_predicted_steps_of_the_cells_that_fit(monkeypatch, tmp_path):
    from bench.cli.plan_tables import plan_totals
    from bench.hardware.gpus import get_gpu
    from bench.plan.planner import PlannedCell
    from bench.predict.cell_time import cell_time, optimizer_steps
    from tests.helpers import tiny_cell

    _keep_fit(monkeypatch, tmp_path, matmul=0.5, memory=0.8)
    card = get_gpu("4090")
    est = _estimate(10 * 2**20, 20 * 2**20)
    est.costs = {"forward": {"matmul@8": [1e12, 1e9, 10]}, "backward": {"memory@-": [0, 2e9, 5]}}
    fits = tiny_cell("lora", max_steps=30, grad_accumulation=2)
    unknown = tiny_cell("lora", seed=1, train_size=None, max_steps=None)
    skipped = tiny_cell("full")
    planned = [
        PlannedCell(fits, est, "fits"),
        PlannedCell(unknown, est, "fits"),
        PlannedCell(skipped, est, "wont_fit"),
    ]
    assert optimizer_steps(fits) == 30 and optimizer_steps(unknown) is None
    step = cell_time(est, fits, card)
    single = cell_time(est, tiny_cell("lora", max_steps=30), card)
    assert step.step_s > single.step_s  # two micro-batches run forward and backward twice
    line = plan_totals(planned, card)
    assert f"{step.step_s * 30 / 3600:.2f} GPU-hours" in line
    assert f"{step.step_s * 30 / 3600 * 450 / 1000:.2f} kWh" in line
    assert "1 cells without a step count" in line


def test_report_rewrites_the_page_only_once_every_estimate_is_kept(tmp_path, monkeypatch):
    from rich.console import Console

    from bench.cli.report import refresh_predictions

    refs = tmp_path / "refs.toml"
    monkeypatch.setenv("FTBENCH_CACHE", str(tmp_path / "cache"))  # no estimate kept yet
    refs.write_text(TINY_ROW.format(counter="reserved"))
    out = tmp_path / "reports"
    console = Console(record=True, width=200)
    refresh_predictions(str(out), console, "report", refs)  # not estimated yet: left alone
    assert not (out / "predictions.md").exists()
    assert "1 of 1 reference rows have no estimate on disk yet" in console.export_text()
    assert main(["predict", "--references", str(refs), "--out", str(tmp_path / "p")]) == 0
    refresh_predictions(str(out), console, "report", refs)
    made, written = (out / "predictions.md").read_text(), (tmp_path / "p" / "predictions.md")
    assert made.splitlines()[3:] == written.read_text().splitlines()[3:]
