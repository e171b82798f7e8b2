import torch
from torch import nn

from bench.meters.memory import PeakMemory
from bench.meters.param_counts import count_parameters, logical_numel
from bench.meters.speed import StepTimer


def test_step_timer_excludes_warmup():
    timer = StepTimer(warmup_steps=2)
    for seconds in (5.0, 4.0, 1.0, 2.0, 3.0):
        timer.record(seconds, samples=10, tokens=100)
    out = timer.summary()
    assert out["steps"] == 5 and out["steady_steps"] == 3
    assert out["step_time_median_s"] == 2.0
    assert out["samples_per_s"] == 30 / 6.0 and out["tokens_per_s"] == 300 / 6.0
    assert out["train_time_s"] == 15.0


def test_step_timer_with_fewer_steps_than_warmup_keeps_them():
    timer = StepTimer(warmup_steps=3)
    timer.record(1.0, 1, 1)
    assert timer.summary()["steady_steps"] == 1


def test_tied_weights_count_once_and_head_apart():
    model = nn.Module()
    model.embed = nn.Embedding(10, 4)
    model.out = nn.Linear(4, 10, bias=False)
    model.out.weight = model.embed.weight
    model.classifier = nn.Linear(4, 2)
    model.embed.weight.requires_grad_(False)
    counts = count_parameters(model, ["classifier"])
    assert counts["total_params"] == 40 + 10
    assert counts["head_params"] == 10 and counts["method_params"] == 0


def test_packed_weight_counts_its_logical_shape():
    packed = nn.Parameter(torch.zeros(8, 1, dtype=torch.uint8), requires_grad=False)
    packed.quant_state = type("QS", (), {"shape": torch.Size([4, 4])})()
    assert logical_numel(packed) == 16


def test_peak_memory_sees_an_allocation():
    meter = PeakMemory(torch.device("cpu"), interval_s=0.005).start()
    block = torch.ones(64 * 1024 * 1024 // 4)  # 64 MiB
    block += 1
    out = meter.stop()
    assert out["rss_delta_bytes"] >= 32 * 1024 * 1024
    assert "nvml_peak_bytes" not in out


def test_a_busy_process_is_named_before_a_run_on_the_cpu():
    import subprocess
    import sys

    from bench.meters.load import busy_processes

    spinner = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 5\nwhile time.time() < end: pass"]
    )
    try:
        found = busy_processes(sample_s=1.0)
    finally:
        spinner.kill()
        spinner.wait()
    assert spinner.pid in [pid for pid, _, _ in found]
    assert all(used > 0.1 for _, _, used in found)
