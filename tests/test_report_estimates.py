"""Reports put each cell's estimate beside its measured peaks, and sum up the error."""

from __future__ import annotations

import pytest

from bench.core.spec import CellSpec
from bench.report.estimates import estimate_rows, estimate_section
from bench.report.labels import method_label

GIB = 2**30


def _record(method: str, status: str, estimate: int, measured: int | None, **spec) -> dict:
    cell = CellSpec(model="config:Llama-2-7B", task="fixed_tokens", method=method, seed=0, **spec)
    memory = {"torch_max_allocated_bytes": measured, "nvml_peak_bytes": measured}
    return {
        "spec": cell,
        "status": status,
        "result": {
            "estimate": {
                "peak_allocated_bytes": estimate,
                "peak_device_bytes": estimate + GIB,
                "verdict": "fits" if status == "ok" else "wont_fit",
                "predicted_step_s": 0.5,
            },
            "memory": memory if measured is not None else {},
            "speed": {"step_time_median_s": 0.4} if measured is not None else {},
        },
    }


def test_errors_per_cell_and_in_summary():
    records = [
        _record("lora", "ok", 11 * GIB, 10 * GIB, precision="bf16"),
        _record("qlora", "ok", 9 * GIB, 10 * GIB, precision="bf16", grad_checkpointing=True),
        _record("full", "wont_fit", 70 * GIB, None, precision="bf16"),
        {"spec": CellSpec("minilm", "tweet_sentiment", "full", 0), "status": "ok", "result": {}},
    ]
    rows = estimate_rows(records)
    assert [r["method"] for r in rows] == ["lora [bf16]", "qlora [bf16, grad-ckpt]", "full [bf16]"]
    assert [r["alloc_error"] for r in rows] == [0.1, -0.1, None]
    text = "\n".join(estimate_section(records))
    assert "+10.0%" in text and "-10.0%" in text and "wont_fit" in text
    assert "over 2 measured cells: mean |error| 10.0%, largest 10.0%, 2 within 10%" in text
    # 0.5 s predicted, 0.4 s measured: +25%
    assert [r["step_error"] for r in rows] == [pytest.approx(0.25), pytest.approx(0.25), None]
    assert "Step time, predicted against measured over 2 cells" in text


def test_no_section_without_estimates_and_labels_keep_variants_apart():
    cpu = {"spec": CellSpec("minilm", "tweet_sentiment", "full", 0), "status": "ok", "result": {}}
    assert estimate_section([cpu]) == []
    assert method_label(CellSpec("m", "t", "lora", 0)) == "lora"
    assert (
        method_label(CellSpec("m", "t", "lora", 0, optimizer="adamw-8bit")) == "lora [adamw-8bit]"
    )
