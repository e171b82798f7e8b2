"""The GPU paths of a cell, on the CPU with fakes: NVML, CUDA out-of-memory errors, loading
on the device in the dtype, FLOPs against FlopCounterMode, no host sync inside a step."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.cell import run as cell_module
from bench.cell.run import failure_record, run_cell
from bench.cell.setup import load_target_for
from bench.cell.train_loop import LoopConfig, train_loop
from bench.core.registry import METHODS, MethodInfo
from bench.data.splits import encode
from bench.hardware.gpus import get_gpu
from bench.meters import energy as energy_module
from bench.meters import memory as memory_module
from bench.meters import nvml as nvml_module
from bench.meters.energy import EnergyMeter
from bench.meters.flops import mfu, peak_flops_for, training_flops_per_token
from bench.meters.memory import PeakMemory
from bench.models.load_target import LoadTarget, Quantization, pretrained_kwargs
from bench.models.sources import build_from_config, get_model
from tests.conftest import TINY_LLAMA
from tests.helpers import tiny_cell

MIB = 1024 * 1024


class FakeNvml:
    """pynvml's calls that the meters make, with a scripted board."""

    def __init__(self, processes=(), used=0, energy_mj=(0,), uuids=("GPU-abc",)):
        self.processes = list(processes)
        self.used = used
        self.energy = list(energy_mj)
        self.uuids = uuids

    def nvmlDeviceGetHandleByUUID(self, uuid):
        if uuid not in self.uuids:
            raise RuntimeError("NVML_ERROR_NOT_FOUND")
        return ("uuid", uuid)

    def nvmlDeviceGetHandleByIndex(self, index):
        return ("index", index)

    def nvmlDeviceGetComputeRunningProcesses(self, handle):
        return self.processes

    def nvmlDeviceGetMemoryInfo(self, handle):
        return SimpleNamespace(used=self.used)

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        return self.energy.pop(0) if len(self.energy) > 1 else self.energy[0]


def proc(pid, used):
    return SimpleNamespace(pid=pid, usedGpuMemory=used)


def test_process_memory_matches_our_pid_else_a_sole_hidden_process(monkeypatch):
    mine = {1234, 7}  # NSpid: our pid outside and inside a namespace
    assert nvml_module.process_memory([proc(7, 5), proc(99, 1)], mine) == (5, "nvml-process")
    # in a container the driver reports a host pid that is not one of ours, nor visible here
    monkeypatch.setattr(nvml_module, "pid_visible", lambda pid: False)
    assert nvml_module.process_memory([proc(4321, 9)], mine) == (9, "nvml-sole-process")
    assert nvml_module.process_memory([proc(4321, 9), proc(4322, 3)], mine) == (None, "n/a")
    monkeypatch.setattr(nvml_module, "pid_visible", lambda pid: True)  # someone else's
    assert nvml_module.process_memory([proc(4321, 9)], mine) == (None, "n/a")


def test_own_pids_include_this_process():
    import os

    assert os.getpid() in nvml_module.own_pids()


def test_board_found_by_uuid_whatever_cuda_visible_devices_says(monkeypatch):
    fake = FakeNvml(uuids=("GPU-abc",))
    monkeypatch.setattr(nvml_module, "nvml", lambda: fake)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-abc")
    monkeypatch.setattr(nvml_module, "cuda_uuid", lambda index: "GPU-abc")
    assert nvml_module.handle_for_cuda(0) == (("uuid", "GPU-abc"), "uuid")
    monkeypatch.setattr(nvml_module, "cuda_uuid", lambda index: None)  # no UUID: by index
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert nvml_module.handle_for_cuda(1) == (("index", 1), "index")


def _fake_cuda(monkeypatch, fake, allocated):
    """torch.cuda's allocator counters, scripted; NVML replaced by `fake`."""
    state = {"peak": 0}
    monkeypatch.setattr(memory_module, "nvml", lambda: fake)
    monkeypatch.setattr(memory_module, "handle_for_cuda", lambda index: ("h", "uuid"))
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    monkeypatch.setattr(
        torch.cuda, "reset_peak_memory_stats", lambda device=None: state.update(peak=0)
    )
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: state["peak"])
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda device=None: state["peak"] * 2)

    def allocate(n):
        state["peak"] = max(state["peak"], n)

    return allocate


def test_memory_windows_reset_at_each_boundary(monkeypatch):
    import os

    fake = FakeNvml(processes=[proc(os.getpid(), 100 * MIB)], used=10 * MIB)
    allocate = _fake_cuda(monkeypatch, fake, allocated=0)
    meter = PeakMemory(torch.device("cuda"), interval_s=60).start("load")
    allocate(300 * MIB)  # loading a model, quantising it: a peak the training never sees
    fake.processes = [proc(os.getpid(), 400 * MIB)]
    meter._sample()
    fake.processes = [proc(os.getpid(), 220 * MIB)]  # the cache emptied at the boundary
    meter.boundary("train")
    fake.processes = [proc(os.getpid(), 250 * MIB)]
    meter._sample()
    allocate(200 * MIB)
    meter.boundary("evaluate")
    allocate(50 * MIB)
    out = meter.stop()
    assert out["windows"]["load"]["torch_max_allocated_bytes"] == 300 * MIB
    assert out["windows"]["train"]["torch_max_allocated_bytes"] == 200 * MIB
    assert out["windows"]["evaluate"]["torch_max_allocated_bytes"] == 50 * MIB
    assert out["windows"]["load"]["nvml_peak_bytes"] == 400 * MIB
    assert out["windows"]["train"]["nvml_peak_bytes"] == 250 * MIB
    # the top level is the training window's, what an estimate predicts
    assert out["window"] == "train" and out["torch_max_allocated_bytes"] == 200 * MIB
    assert out["torch_max_reserved_bytes"] == 400 * MIB
    assert out["nvml_source"] == "nvml-process" and out["nvml_device_by"] == "uuid"


def test_without_a_process_match_memory_is_labelled_device_minus_baseline(monkeypatch):
    fake = FakeNvml(processes=[], used=1000 * MIB)
    _fake_cuda(monkeypatch, fake, allocated=0)
    meter = PeakMemory(torch.device("cuda"), interval_s=60).start("train")
    fake.used = 1600 * MIB
    out = meter.stop()
    assert out["nvml_peak_bytes"] == 600 * MIB
    assert out["nvml_source"] == "nvml-device-minus-baseline"


def _energy_meter(monkeypatch, counter_mj):
    fake = FakeNvml(energy_mj=counter_mj)
    monkeypatch.setattr(energy_module, "nvml", lambda: fake)
    meter = EnergyMeter(torch.device("cpu"))
    meter._handle = "h"  # as if on a CUDA board
    return meter


def test_energy_of_a_window_per_step_per_token_and_power(monkeypatch):
    meter = _energy_meter(monkeypatch, [1_000_000, 1_300_000]).start()
    meter._t0 -= 2.0  # a two-second window
    out = meter.stop(steps=10, tokens=3000)
    assert out["energy_j"] == pytest.approx(300.0)
    assert out["energy_per_step_j"] == pytest.approx(30.0)
    assert out["energy_per_token_j"] == pytest.approx(0.1)
    assert out["mean_power_w"] == pytest.approx(150.0, rel=0.01)
    assert out["energy_flag"] is None and out["energy_source"] == "nvml-total-energy"


def test_a_counter_that_did_not_move_is_flagged_not_zero(monkeypatch):
    meter = _energy_meter(monkeypatch, [5_000, 5_000]).start()
    out = meter.stop(steps=1, tokens=10)
    assert out["energy_j"] is None and out["energy_per_step_j"] is None
    assert "update period" in out["energy_flag"]


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), "oom"),
        (RuntimeError("CUDA error: CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"), "oom"),
        (RuntimeError("CUDA error: out of memory"), "oom"),
        (RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED"), "oom"),
        (MemoryError(), "host_oom"),
        (RuntimeError("mat1 and mat2 shapes cannot be multiplied"), "error"),
    ],
)
def test_out_of_memory_of_every_kind_maps_to_its_status(exc, status):
    assert failure_record(exc)["status"] == status


def test_pretrained_load_asks_for_the_device_dtype_and_quantisation():
    nf4 = Quantization(4, "nf4", True, torch.bfloat16)
    kwargs = pretrained_kwargs(LoadTarget(torch.device("cuda:1"), torch.bfloat16, nf4))
    config = kwargs["quantization_config"]
    assert kwargs["device_map"] == {"": "cuda:1"} and kwargs["dtype"] == torch.bfloat16
    assert config.load_in_4bit and config.bnb_4bit_quant_type == "nf4"
    assert config.bnb_4bit_use_double_quant and config.bnb_4bit_compute_dtype == torch.bfloat16
    assert "score" in config.llm_int8_skip_modules and "classifier" in config.llm_int8_skip_modules
    int8 = pretrained_kwargs(LoadTarget(torch.device("cuda"), torch.bfloat16, Quantization(8)))
    assert int8["quantization_config"].load_in_8bit
    cpu = pretrained_kwargs(LoadTarget(torch.device("cpu"), torch.float32, nf4))
    assert cpu == {"dtype": torch.float32}  # on the CPU the method quantises in place


def test_where_each_model_is_built():
    cuda, nf4 = torch.device("cuda"), Quantization(4)
    assert load_target_for("config", cuda, torch.bfloat16, None) == LoadTarget(cuda, torch.bfloat16)
    # a config model's quantised base: built on the host in the compute dtype, quantised
    # layer by layer onto the device by the method
    host = load_target_for("config", cuda, torch.float32, nf4)
    assert host.device.type == "cpu" and host.dtype == torch.bfloat16
    assert load_target_for("hub", cuda, torch.float32, nf4).quantize_at_load()
    assert not load_target_for(
        "packaged", torch.device("cpu"), torch.float32, nf4
    ).quantize_at_load()


def test_config_models_are_built_on_the_target_device_in_its_dtype():
    from transformers import AutoConfig

    config = dict(TINY_LLAMA)
    cfg = AutoConfig.for_model(config.pop("model_type"), **config)
    model = build_from_config(
        cfg, "classification", 2, LoadTarget(torch.device("meta"), torch.bfloat16)
    )
    assert {p.device.type for p in model.parameters()} == {"meta"}
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}


def test_methods_see_the_model_on_its_device_in_its_dtype(monkeypatch):
    seen = {}

    def probe(model, settings, ctx):
        param = next(model.parameters())
        seen.update(dtype=param.dtype, device=str(param.device), ctx=ctx.device)
        seen["batch"] = str(ctx.calibration_batches(1)[0]["input_ids"].device)
        return model

    info = MethodInfo(name="probe-placement", family="test", apply=probe, defaults={}, lr=1e-3)
    monkeypatch.setitem(METHODS._entries, "probe-placement", info)  # this test's alone
    record = run_cell(tiny_cell("probe-placement", model="tiny-llama", precision="bf16"))
    assert seen == {"dtype": torch.bfloat16, "device": "cpu", "ctx": "cpu", "batch": "cpu"}
    assert record["load"]["dtype"] == "bfloat16" and record["load"]["device"] == "cpu"
    assert record["load"]["attention"] in ("sdpa", "eager")


@pytest.mark.parametrize("variant", ["full", "lora", "freeze"])
@pytest.mark.parametrize("model_type", ["llama", "gpt2"])
def test_flop_formula_within_5_percent_of_flop_counter_mode(variant, model_type):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    from tests.conftest import TINY_GPT2

    config = dict(TINY_LLAMA if model_type == "llama" else TINY_GPT2)
    cfg = AutoConfig.for_model(config.pop("model_type"), **config)
    torch.manual_seed(0)
    # eager attention: FlopCounterMode does not count the CPU SDPA kernel
    model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager")
    if variant == "lora":
        targets = ["q_proj", "v_proj"] if model_type == "llama" else ["c_attn"]
        model = get_peft_model(model, LoraConfig(r=8, target_modules=targets))
    if variant == "freeze":
        for name, p in model.named_parameters():
            p.requires_grad_(".1." in name or "lm_head" in name)
    batch, seq = 4, 32
    ids = torch.randint(5, 250, (batch, seq))
    with FlopCounterMode(display=False) as counter:
        model(input_ids=ids, labels=ids).loss.backward()
    measured = counter.get_total_flops() / (batch * seq)
    predicted = training_flops_per_token(model, seq)
    assert predicted.per_token == pytest.approx(measured, rel=0.05)
    if variant == "full":
        assert predicted.weight_grads == predicted.forward  # 6N, less nothing


def test_mfu_against_the_cards_peak():
    h100 = get_gpu("h100")
    peak = peak_flops_for(h100, "bf16", tf32=True)
    assert peak == h100.bf16_tflops * 1e12
    assert peak_flops_for(h100, "fp32", tf32=True) == h100.tf32_tflops * 1e12
    assert peak_flops_for(None, "bf16", tf32=False) is None
    assert mfu(peak / 4, peak) == pytest.approx(0.25)


def test_a_step_reads_nothing_from_the_device_between_its_timing_boundaries(monkeypatch):
    """Every read of a tensor's value (item, float, int, bool, tolist) is logged with the
    timing syncs; inside a step (between its two syncs) there must be none, except the
    optimizer reading its step counter, which lives on the host on CUDA."""
    import traceback

    from bench.cell import train_loop as train_module

    events: list[str] = []
    monkeypatch.setattr(train_module, "synchronize", lambda device: events.append("sync"))

    def logged(name):
        original = getattr(torch.Tensor, name)

        def read(self, *args, **kwargs):
            caller = traceback.extract_stack(limit=2)[0]
            if caller.name != "_get_value":  # torch.optim's host-side step counter
                events.append(f"read {name} at {caller.filename}:{caller.lineno}")
            return original(self, *args, **kwargs)

        return read

    for name in ("item", "__float__", "__int__", "__bool__", "tolist"):
        monkeypatch.setattr(torch.Tensor, name, logged(name))
    model, tokenizer = get_model("tiny-llama").load("classification", 2)
    config = LoopConfig(lr=1e-3, batch_size=8, max_steps=3)

    def reads_inside_steps(texts: list[str]) -> list[str]:
        data = encode(tokenizer, texts * 8, [0, 1, 0] * 8, 16)
        events.clear()
        train_loop(model, data, torch.device("cpu"), 0, config)
        syncs = [i for i, e in enumerate(events) if e == "sync"]
        assert len(syncs) == 6  # two per step: its start and its end
        return [e for a, b in zip(syncs[::2], syncs[1::2], strict=True) for e in events[a + 1 : b]]

    assert reads_inside_steps(["abc", "def", "ghi"]) == []  # no padding: nothing at all
    # padded batches: transformers reads the mask to choose its attention path; our loop never
    padded = reads_inside_steps(["a b c", "d e f g", "h i"])
    assert padded and all("transformers" in e and "/bench/" not in e for e in padded)


def test_compile_trains_and_keeps_compile_time_apart(monkeypatch):
    monkeypatch.setenv("FTBENCH_COMPILE_BACKEND", "eager")
    calls = []
    real = torch.compile

    def spy(model, **kwargs):
        calls.append(kwargs)
        return real(model, **kwargs)

    monkeypatch.setattr(cell_module.torch, "compile", spy)
    record = run_cell(tiny_cell("lora", model="tiny-bert", compile=True))
    assert calls == [{"backend": "eager"}]
    assert record["load"]["compile"] is True
    assert record["speed"]["first_step_s"] > 0 and record["speed"]["warmup_steps_excluded"] >= 1
    assert record["throughput"]["flops_per_token"] > 0
    assert record["throughput"]["mfu"] is None  # no card: no peak to divide by
