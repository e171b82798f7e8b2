import numpy as np
import pandas as pd

from bench.report.claims import claims, method_matrix
from bench.report.plots import method_summary, pareto_front, pareto_plot
from tests.helpers import tiny_cell
from tests.test_compare import _record


def _frame(store=None):
    """Full and LoRA, two seeds each, same per-example correctness; saved to `store` if given."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 100)
    rows = []
    for seed in (0, 1):
        preds = np.where(rng.random(100) < 0.7, labels, 1 - labels)
        for method, params, total, step, memory in (
            ("full", 1000, 1000, 3.0, 900.0),
            ("lora", 3, 1003, 2.5, 500.0),
        ):
            spec = tiny_cell(method, seed=seed)
            accuracy = float(np.mean(preds == labels))
            if store is not None:
                store.save(spec, _record(preds, labels, accuracy))
            rows.append(
                {
                    "cell_id": spec.cell_id,
                    "status": "ok",
                    "task": "t",
                    "model": "m",
                    "device": "cpu",
                    "method": method,
                    "lr": spec.lr,
                    "settings": "",
                    "seed": seed,
                    "metric_name": "accuracy",
                    "metric": accuracy,
                    "method_params": params,
                    "total_params": total,
                    "step_time_s": step,
                    "peak_mem_mib": memory,
                }
            )
    return pd.DataFrame(rows)


def test_claims_decide_from_stored_cells_and_counts(store):
    table = claims(_frame(store), store).set_index("claim")
    share = table.loc["LoRA trains 0.1-0.5% of the parameters (lora)"]
    assert share["verdict"] == "holds" and share["measured"].startswith("0.2991%")
    speed = table.loc["LoRA: 1.5x the speed of full fine-tuning (lora)"]
    assert speed["verdict"] == "does not hold" and speed["measured"].startswith("1.20x")
    accuracy = table.loc["PEFT reaches full fine-tuning's accuracy (lora)"]
    assert accuracy["verdict"] == "holds" and "method-level" in accuracy["basis"]
    gpt2 = table.loc["LoRA on gpt2-xl trains 8,192,000 of 1,558,432,768 parameters"]
    assert "2,457,600" in gpt2["measured"] and gpt2["verdict"].startswith("does not hold")
    qlora = table.loc["QLoRA takes a 7B model from 28 GB to 3.5 GB"]
    assert "6,738,415,616" in qlora["measured"] and "not measured" in qlora["basis"]
    assert "not measured yet" in table.loc["BitFit: 3x the speed of full fine-tuning", "verdict"]


def test_a_learning_rate_used_on_another_task_does_not_rename_the_baseline(store):
    frame = _frame(store)
    other = frame.assign(task="t2", lr=frame["lr"] * 10)  # same stored predictions
    table = claims(pd.concat([frame, other], ignore_index=True), store)
    rows = table[table["claim"] == "PEFT reaches full fine-tuning's accuracy (lora)"]
    assert [m.split(", ")[-1] for m in rows["measured"]] == ["m / t / cpu", "m / t2 / cpu"]
    assert list(rows["verdict"]) == ["holds", "holds"]


def test_method_matrix_keeps_learning_rates_apart():
    frame = _frame()
    extra = frame[frame["method"] == "lora"].assign(lr=1e-2, cell_id=["x", "y"])
    matrix = method_matrix(pd.concat([frame, extra], ignore_index=True))
    assert sorted(matrix["method"]) == ["full", "lora (lr 0.003)", "lora (lr 0.01)"]
    assert set(matrix["seeds"]) == {2}


def test_pareto_front_and_plot(tmp_path):
    points = pd.DataFrame(
        {"method": ["a", "b", "c"], "cost": [1.0, 2.0, 3.0], "value": [0.5, 0.4, 0.9]}
    )
    assert list(pareto_front(points, "cost", "value")["method"]) == ["a", "c"]
    summary = method_summary(_frame())
    assert list(summary["method"]) == ["full", "lora"]
    path = pareto_plot(summary, "t on m", "accuracy", tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
