"""The serving table, claims, summary lines and latency gate, from serving records by hand."""

from __future__ import annotations

import pandas as pd


def _timed(ms: float, rounds: list[float] | None = None) -> dict:
    return {
        "latency_b1_median_ms": ms,
        "latency_b1_p95_ms": ms * 1.5,
        "rounds_b1_median_ms": rounds or [ms, ms],
        "serving_batch": 32,
        "throughput_per_s": 1000 / ms,
        "calls": 35,
    }


def serving_record(
    base_ms: float,
    trained_ms: float,
    merged_ms: float | None,
    onnx_ms: float,
    *,
    flops: tuple[int, int] = (100, 125),
    shipped_bytes: int = 2_000_000,
    trained_rounds: list[float] | None = None,
) -> dict:
    """One cell's inference record: base and trained timed at these medians (the trained
    model's rounds as given), merged where `merged_ms` is given."""
    latency = {
        "base": _timed(base_ms, [base_ms] * len(trained_rounds or [0, 0])),
        "trained": _timed(trained_ms, trained_rounds),
        "switching": _timed(trained_ms * 1.1),
        "mixed batch": _timed(trained_ms * 2),
        "onnx": _timed(onnx_ms),
        "onnx int8": _timed(onnx_ms / 2),
        "load": {"contended": False},
    }
    merge = {"how": "nothing to merge", "merged": False}
    if merged_ms is not None:
        latency["merged"] = _timed(merged_ms)
        merge = {
            "how": "peft merge_and_unload",
            "merged": True,
            "examples": 10,
            "max_abs_logit_diff": 2e-6,
            "flipped": 1,
        }
    return {
        "shipped": {
            "bytes": shipped_bytes,
            "what": "adapter",
            "files": [],
            "load_s": 0.1,
            "reloaded": {"examples": 10, "max_abs_logit_diff": 0.0, "flipped": 0},
        },
        "flops_b1": {"base": flops[0], "trained": flops[1]},
        "many_tasks": {
            "how": "peft",
            "tasks": 4,
            "bytes_one_base": 3_000_000,
            "bytes_separate": 40_000_000,
            "mixed": {"supported": True},
        },
        "merge": merge,
        "onnx": {
            "provider": "CPUExecutionProvider",
            "onnx": {"examples": 10, "max_abs_logit_diff": 1e-6, "flipped": 0},
            "onnx int8": {"examples": 10, "max_abs_logit_diff": 0.1, "flipped": 2, "accuracy": 0.5},
            "pytorch_accuracy": 0.6,
        },
        "latency": latency,
    }


def test_the_serving_table_by_hand():
    from bench.report.serving_table import serving_rows

    ok = pd.DataFrame(
        {
            "method": ["lora", "lora"],
            "inference": [serving_record(10, 12, 10, 5), serving_record(10, 14, 10, 4)],
        }
    )
    row = serving_rows(ok).iloc[0]
    assert row["shipped MB"] == "2.000" and row["seeds"] == 2
    assert row["x vs base"] == "0.77 [0.71-0.83]"  # median of 10/12 and 10/14, their rounds
    assert row["merged x vs base"] == "1.00 [1.00-1.00]"
    assert row["merge"] == "2 of 20 flipped, largest logit change 2.0e-06"
    onnx = "CPU: x2.25 vs PyTorch; 0 of 20 flipped, largest logit change 1.0e-06"
    assert row["ONNX Runtime"] == onnx
    assert row["int8"] == "x4.50 vs PyTorch; Δ accuracy -0.1000, 4 flipped"
    assert row["contended"] == "no"
    assert row["compute x base (FLOPs b1)"] == "1.250" and row["load s"] == "0.10"
    assert row["many tasks"] == (
        "4 on one base 3.0 MB vs 4 separate models 40.0 MB; switching per request x0.91 b1 "
        "latency; a batch mixing the 4 tasks x0.50 throughput (vs one task's model)"
    )


def _frame(records: dict[str, dict]) -> pd.DataFrame:
    """A book-like frame: one cell per method at one budget, its serving record."""
    return pd.DataFrame(
        [
            {
                "method": f"{method} [serving measured]",
                "method_name": method,
                "variant": method,
                "config": f"{method}-config",
                "budget": "b",
                "where": "tiny / task / cpu",
                "task": "task",
                "model": "tiny",
                "status": "ok",
                "method_params": 5,
                "total_params": 1000,
                "inference": record,
            }
            for method, record in records.items()
        ]
    )


def test_serving_claims_call_a_latency_difference_only_when_every_round_agrees():
    from bench.report.serving_claims import serving_claims

    frame = _frame(
        {
            "full": serving_record(10, 10, None, 4, flops=(100, 100), shipped_bytes=90_000_000),
            "lora": serving_record(10, 10, 10, 4),
            # Houlsby slower in every round; Pfeiffer on both sides of the base
            "houlsby": serving_record(10, 12, None, 4, flops=(100, 102), trained_rounds=[11, 12]),
            "pfeiffer": serving_record(10, 10, None, 5, flops=(100, 101), trained_rounds=[9, 11]),
        }
    )
    rows = {v.claim: v for v in serving_claims(frame)}
    extra = "Adapters need extra inference time"
    assert rows[f"{extra} (houlsby)"].verdict.startswith("holds")
    assert rows[f"{extra} (pfeiffer)"].verdict.startswith("not detectable")
    assert "slower than the base in 1 of 2 rounds" in rows[f"{extra} (pfeiffer)"].measured
    placement = [v for c, v in rows.items() if c.startswith("Adapters cost")]
    assert {v.verdict for v in placement} == {"does not hold (counted)"}  # 1.02x, 1.01x
    assert "forward FLOPs x1.020" in next(v.measured for v in placement if "houlsby" in v.claim)
    lora = rows["LoRA deploys easily: its weights save and load apart from the base (lora)"]
    assert lora.verdict == "holds" and "(full fine-tuning ships 90.0 MB)" in lora.measured
    onnx = next(v for c, v in rows.items() if c.startswith("ONNX Runtime"))
    assert onnx.verdict.startswith(
        "not checked as stated"
    ) and "CPU provider: x2.00-3.00 (median x2.50)" in (onnx.measured)
    assert all(v.source for v in rows.values())  # every row names its guide


def test_serving_claims_say_what_to_run_without_serving_cells():
    from bench.report.serving_claims import serving_claims

    rows = serving_claims(_frame({"lora": None}))
    assert rows and all(v.verdict.startswith("not measured yet") for v in rows)


def test_the_summary_lines_span_the_methods():
    from bench.report.serving_summary import serving_lines

    frame = _frame(
        {
            "full": serving_record(10, 10, None, 4, shipped_bytes=90_000_000),
            "lora": serving_record(10, 12, 10, 5),
        }
    )
    (line,) = serving_lines("serving", frame)
    assert "2.00 (`lora [serving measured]`) to 90.00 (`full [serving measured]`) MB" in line
    assert "1.00 (`full [serving measured]`) to 1.20 (`lora [serving measured]`) x" in line
    assert "merging kept every test prediction for none" in line  # lora flipped one


def test_the_latency_budget_decides_on_the_served_model():
    from bench.report.latency_gate import latency_rows, latency_table

    frame = _frame({"lora": serving_record(10, 20, 11, 4), "houlsby": None})
    (row,) = latency_rows(frame, "lora", 1.2)
    assert row.served == "merged" and row.median == 1.1 and row.passed  # merged, not 2x
    assert not latency_rows(frame, "lora", 1.05)[0].passed
    (missing,) = latency_rows(frame, "houlsby", 1.2)
    assert not missing.passed and "no serving record" in latency_table([missing])
