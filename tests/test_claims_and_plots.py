import pandas as pd

from bench.claims import claims
from bench.plots import method_summary, pareto_front, pareto_plot


def _frame():
    rows = []
    for seed in (0, 1):
        rows.append(
            {
                "status": "ok",
                "task": "t",
                "model": "m",
                "device": "cpu",
                "method": "full",
                "seed": seed,
                "metric": 0.70 + seed * 0.01,
                "method_params": 1000,
                "total_params": 1000,
                "step_time_s": 3.0,
                "peak_mem_mib": 900.0,
            }
        )
        rows.append(
            {
                "status": "ok",
                "task": "t",
                "model": "m",
                "device": "cpu",
                "method": "lora",
                "seed": seed,
                "metric": 0.70 + seed * 0.01,
                "method_params": 3,
                "total_params": 1003,
                "step_time_s": 2.5,
                "peak_mem_mib": 500.0,
            }
        )
    return pd.DataFrame(rows)


def test_claims_decide_from_stored_cells_and_counts():
    table = claims(_frame()).set_index("claim")
    share = table.loc["LoRA trains 0.1-0.5% of the parameters (lora)"]
    assert share["verdict"] == "holds" and share["measured"].startswith("0.2991%")
    speed = table.loc["LoRA: 1.5x the speed of full fine-tuning (lora)"]
    assert speed["verdict"] == "does not hold" and speed["measured"].startswith("1.20x")
    assert table.loc["PEFT reaches full fine-tuning's accuracy (lora)", "verdict"] == "holds"
    gpt2 = table.loc["LoRA on gpt2-xl trains 8,192,000 of 1,558,432,768 parameters"]
    assert "2,457,600" in gpt2["measured"] and gpt2["verdict"].startswith("does not hold")
    qlora = table.loc["QLoRA takes a 7B model from 28 GB to 3.5 GB"]
    assert "6,738,415,616" in qlora["measured"] and "not measured" in qlora["basis"]
    assert "not measured yet" in table.loc["BitFit: 3x the speed of full fine-tuning", "verdict"]


def test_pareto_front_and_plot(tmp_path):
    points = pd.DataFrame(
        {"method": ["a", "b", "c"], "cost": [1.0, 2.0, 3.0], "value": [0.5, 0.4, 0.9]}
    )
    assert list(pareto_front(points, "cost", "value")["method"]) == ["a", "c"]
    summary = method_summary(_frame())
    assert list(summary["method"]) == ["full", "lora"]
    path = pareto_plot(summary, "t on m", "accuracy", tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
