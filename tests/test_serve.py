"""The inference stage: merging keeps the outputs for every mergeable method, what ships loads
back to the same outputs, and a cell with --inference records serving beside its training."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bench.core.registry import METHODS
from bench.serve.merge import merged_copy, output_agreement
from tests.helpers import tiny_cell
from tests.test_methods import batch, prepared

# bitsandbytes' 4- and 8-bit bases dequantise to merge (a rounding, and CUDA's): left out here
QUANTIZED = {"qlora", "lora_8bit"}
PROMPTS = {"prompt_tuning", "prefix_tuning", "p_tuning"}
OWN_WEIGHTS = {"full", "bitfit", "freeze", "houlsby", "pfeiffer", "bottleneck"}


def _trained(method: str) -> torch.nn.Module:
    """The method on the tiny BERT with every trainable tensor moved off its start (a LoRA B
    starts at zero: merging it would be trivially exact)."""
    model, _, _ = prepared("tiny-bert", method)
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad and p.is_floating_point():
                p.add_(0.05 * torch.randn_like(p))
    return model.eval()


def _tiny_base() -> torch.nn.Module:
    """The tiny BERT as `prepared` loads it, before any method."""
    from bench.models.sources import get_model

    torch.manual_seed(0)
    return get_model("tiny-bert").load("classification", 3)[0]


@pytest.mark.parametrize("method", sorted(set(METHODS.names()) - QUANTIZED))
def test_merging_keeps_the_outputs_of_every_mergeable_method(method):
    model = _trained(method)
    inputs = {k: v for k, v in batch().items() if k != "labels"}
    with torch.no_grad():
        before = model(**inputs).logits
        merged, how = merged_copy(model, _tiny_base)
        if method in PROMPTS:
            assert merged is None and "virtual tokens" in how
            return
        if method in OWN_WEIGHTS:
            assert merged is None and "nothing to merge" in how
            return
        assert merged is not None, how
        names = [n for n, _ in merged.named_parameters()]
        assert not any("lora_" in n or "base_layer" in n or "parametrizations" in n for n in names)
        agreement = output_agreement(before, merged.eval()(**inputs).logits)
    assert agreement["flipped"] == 0
    assert agreement["max_abs_logit_diff"] < 1e-4


@pytest.mark.parametrize("method", ["lora", "houlsby", "bitfit", "sparse"])
def test_what_ships_loads_back_to_the_same_outputs(method, tmp_path):
    from bench.serve.shipped import reload_shipped, save_shipped

    model = _trained(method)
    inputs = {k: v for k, v in batch().items() if k != "labels"}
    shipped = save_shipped(model, tmp_path)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert shipped["bytes"] >= 4 * trainable  # fp32 values, at least
    if method == "lora":  # the adapter (and the trained head), nothing of the base
        assert "adapter_model.safetensors" in shipped["files"]
        assert shipped["bytes"] < 4 * trainable + 16_384  # headers and the config
    else:
        assert shipped["files"] == ["trained.safetensors"]

    def rebuilt() -> torch.nn.Module:  # the same base, the method applied anew
        fresh = prepared("tiny-bert", method)[0]
        if method == "sparse":  # positions chosen otherwise: the shipped ones must replace them
            for name, buffer in fresh.named_buffers():
                if name.endswith(".index"):
                    buffer.copy_(buffer.flip(0))
        return fresh

    if method == "sparse":
        assert "buffers (index)" in shipped["what"]
    loaded = reload_shipped(tmp_path, _tiny_base, rebuilt).eval()
    with torch.no_grad():
        agreement = output_agreement(model(**inputs).logits, loaded(**inputs).logits)
    assert agreement == {"examples": 8, "max_abs_logit_diff": 0.0, "flipped": 0}


def test_a_cell_with_inference_records_serving_beside_its_training():
    from bench.cell.run import run_cell

    record = run_cell(tiny_cell("lora", inference=True))
    serving = record["inference"]
    assert serving["shipped"]["reloaded"]["flipped"] == 0
    assert serving["shipped"]["reloaded"]["max_abs_logit_diff"] < 1e-5
    assert serving["merge"]["merged"] and serving["merge"]["flipped"] == 0
    latency = serving["latency"]
    assert set(latency) == {
        *("base", "trained", "merged", "switching", "mixed batch", "onnx", "onnx int8", "load")
    }
    assert serving["flops_b1"]["trained"] > serving["flops_b1"]["base"]  # unmerged: B(Ax) more
    assert serving["flops_b1"]["merged"] == serving["flops_b1"]["base"]
    assert serving["onnx"]["onnx"]["flipped"] == 0  # the merged model through ONNX Runtime
    for variant in ("base", "trained", "merged"):
        assert latency[variant]["latency_b1_p95_ms"] >= latency[variant]["latency_b1_median_ms"] > 0
        assert latency[variant]["serving_batch"] == 32
    assert record["status"] == "ok"  # the trained cell's own record is whole beside it


@pytest.mark.parametrize("method", ["lora", "ia3", "houlsby"])
def test_many_tasks_on_one_base_serve_each_row_its_own_task(method, tmp_path):
    from bench.serve.many_tasks import TASKS, many_tasks_stage
    from bench.serve.shipped import save_shipped

    model = _trained(method)
    save_shipped(model, tmp_path)
    serving = {k: v for k, v in batch().items() if k != "labels"}
    record, calls = many_tasks_stage(
        model, tmp_path, _tiny_base, model, serving, torch.device("cpu")
    )
    if method == "houlsby":  # ours: one model per task, nothing shared
        assert "bytes_one_base" not in record and set(calls) == set()
        return
    assert record["bytes_one_base"] < record["bytes_separate"]
    assert record["switched"]["max_abs_logit_diff"] == 0.0  # the last copy, the same adapter
    with torch.no_grad():
        out = calls["switching"](serving).logits
    assert torch.equal(out, model(**serving).logits)
    if method == "lora":  # peft serves each row of a mixed batch with its own adapter
        assert record["mixed"]["supported"] and "mixed batch" in calls
        with torch.no_grad():
            assert torch.allclose(calls["mixed batch"](serving).logits, out, atol=1e-5)
    else:  # IA3 drops adapter_names: the base rows got the task's outputs, so it is not timed
        assert not record["mixed"]["supported"]
        assert record["mixed"]["max_abs_logit_diff"] > 1e-4
        assert "mixed batch" not in calls
    assert record["tasks"] == TASKS


def test_inference_is_refused_for_generation_tasks():
    from bench.plan.validate import check_step_options

    spec = dataclasses.replace(tiny_cell(), task="chatterbot_sft", inference=True)
    with pytest.raises(ValueError, match="inference: .*chatterbot_sft is a generation task"):
        check_step_options(spec)


def test_onnx_runtime_gives_pytorch_outputs_and_int8_is_measured(tmp_path):
    from bench.data.splits import Encoded
    from bench.serve.merge import logits_of
    from bench.serve.stage import onnx_stage

    merged, _ = merged_copy(_trained("lora"))
    g = torch.Generator().manual_seed(3)
    lengths = [5, 12, 9, 3, 12, 7]  # padded batches of mixed lengths: the mask matters
    data = Encoded(
        input_ids=[torch.randint(4, 200, (n,), generator=g).tolist() for n in lengths],
        labels=[0, 1, 2, 0, 1, 2],
    )
    reference = logits_of(merged, data, torch.device("cpu"), 0)
    record, runs = onnx_stage(merged, data, 0, reference, tmp_path)
    assert "error" not in record, record.get("error")
    assert record["provider"] == "CPUExecutionProvider" and set(runs) == {"onnx", "onnx int8"}
    assert record["onnx"]["flipped"] == 0 and record["onnx"]["max_abs_logit_diff"] < 1e-4
    assert record["onnx int8"]["examples"] == 6 and 0 <= record["onnx int8"]["accuracy"] <= 1
    assert record["bytes"]["int8"] < record["bytes"]["fp32"]


def test_onnx_runtime_prefers_tensorrt_then_cuda_where_installed(monkeypatch):
    import onnxruntime

    from bench.serve.onnx_runtime import providers

    monkeypatch.setattr(
        onnxruntime,
        "get_available_providers",
        lambda: ["CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"],
    )
    assert providers()[0] == "TensorrtExecutionProvider"
    monkeypatch.setattr(onnxruntime, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert providers() == ["CPUExecutionProvider"]
