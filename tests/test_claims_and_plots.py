import dataclasses

import numpy as np
import pandas as pd

from bench.report.claims import claims, method_matrix
from bench.report.comparison_book import ComparisonBook
from bench.report.plots import method_summary, pareto_front, pareto_plot, sound_front
from tests.helpers import tiny_cell
from tests.test_compare import _record


def _frame(store=None, collapse_lora_seed=None, **changes):
    """Full and LoRA, two seeds each, same per-example correctness; saved to `store` if given.
    `changes` alter every cell's spec (a task, a rate, the trial flag) but not the cell ids,
    so that the stored predictions serve several configurations."""
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
            collapsed = method == "lora" and seed == collapse_lora_seed
            shown = dataclasses.replace(spec, **changes)
            rows.append(
                {
                    "cell_id": spec.cell_id,
                    "status": "ok",
                    "task": shown.task,
                    "model": "m",
                    "device": "cpu",
                    "method": method,
                    "lr": shown.lr,
                    "settings": "",
                    "seed": seed,
                    "spec": shown,
                    "trial": shown.trial,
                    "metric_name": "accuracy",
                    "metric": 0.5 if collapsed else accuracy,
                    "accuracy": 0.5 if collapsed else accuracy,
                    "majority": 0.5,
                    "recall": {"a": 1.0, "b": 0.0} if collapsed else {"a": 0.7, "b": 0.7},
                    "method_params": params,
                    "total_params": total,
                    "step_time_s": step,
                    "peak_mem_mib": memory + 500,
                    "train_mem_mib": memory,
                }
            )
    return pd.DataFrame(rows)


def test_claims_decide_from_stored_cells_and_counts(store):
    table = claims(ComparisonBook(store, _frame(store))).set_index("claim")
    share = table.loc["LoRA trains 0.1-0.5% of the parameters (lora)"]
    assert share["verdict"] == "holds" and share["measured"].startswith("0.2991%")
    speed = table.loc["LoRA: 1.5x the speed of full fine-tuning (lora vs full)"]
    assert speed["verdict"] == "does not hold" and speed["measured"].startswith("1.20x")
    assert "not side by side" in speed["basis"]
    accuracy = table.loc["PEFT reaches full fine-tuning's accuracy (lora vs full)"]
    assert accuracy["verdict"] == "holds" and "method-level" in accuracy["basis"]
    gpt2 = table.loc["LoRA on gpt2-xl trains 8,192,000 of 1,558,432,768 parameters"]
    assert "2,457,600" in gpt2["measured"] and gpt2["verdict"].startswith("does not hold")
    qlora = table.loc["QLoRA takes a 7B model from 28 GB to 3.5 GB"]
    assert "6,738,415,616" in qlora["measured"] and "not measured" in qlora["basis"]
    assert "not measured yet" in table.loc["BitFit: 3x the speed of full fine-tuning", "verdict"]


def test_a_learning_rate_used_on_another_task_does_not_rename_the_baseline(store):
    frame = _frame(store)
    other = _frame(task="sms_spam", lr=frame["lr"].iloc[1] * 10)  # same stored predictions
    table = claims(ComparisonBook(store, pd.concat([frame, other], ignore_index=True)))
    rows = table[table["claim"] == "PEFT reaches full fine-tuning's accuracy (lora vs full)"]
    where = sorted(m.split(", ")[-1] for m in rows["measured"])
    assert where == ["tiny-bert / sms_spam / cpu", "tiny-bert / synthetic_rule / cpu"]
    assert list(rows["verdict"]) == ["holds", "holds"]


def test_method_matrix_keeps_configurations_apart_and_leaves_search_trials_out(store):
    """Two LoRA rates are two rows, each against the one full configuration of their budget;
    search trials (validation-scored) appear nowhere, not even as a fourth seed."""
    frame = _frame()
    extra = _frame(lr=1e-2)
    extra = extra[extra["method"] == "lora"].assign(cell_id=["x", "y"])
    trials = _frame(trial=True).assign(cell_id=["t1", "t2", "t3", "t4"])
    matrix = method_matrix(
        ComparisonBook(store, pd.concat([frame, extra, trials], ignore_index=True))
    )
    assert sorted(matrix["method"]) == ["full", "lora (lr 0.003)", "lora (lr 0.01)"]
    assert set(matrix["seeds"]) == {2} and set(matrix["full configuration"]) == {"full"}
    assert set(matrix["x training memory vs full (lower: less)"]) == {"1.00", "0.56"}


def test_two_full_rates_are_two_baselines_never_a_pool(store):
    frame = _frame(store)
    faster_full = _frame(lr=1e-3)
    faster_full = faster_full[faster_full["method"] == "full"]  # the same stored predictions
    table = claims(ComparisonBook(store, pd.concat([frame, faster_full], ignore_index=True)))
    speed = table[table["claim"].str.startswith("LoRA: 1.5x the speed")]
    assert sorted(c.split(" (", 1)[1] for c in speed["claim"]) == [
        "lora vs full (lr 0.0001))",
        "lora vs full (lr 0.001))",
    ]
    assert all("2 and 2 cells" in m for m in speed["measured"])


def test_a_collapsed_seed_is_a_failure_not_noise(store):
    """LoRA's seed 1 predicts one class: the claim does not hold because of it (no interval
    is computed over it), and the matrix averages the healthy seed only and says so."""
    frame = _frame(store, collapse_lora_seed=1)
    book = ComparisonBook(store, frame)
    table = claims(book).set_index("claim")
    accuracy = table.loc["PEFT reaches full fine-tuning's accuracy (lora vs full)"]
    assert accuracy["verdict"].startswith("does not hold: collapsed")
    assert "1 of 2 seeds collapsed (seed 1)" in accuracy["measured"]
    matrix = method_matrix(book).set_index("method")
    assert matrix.loc["lora", "failures"] == "1 of 2 seeds collapsed (seed 1)"
    healthy = frame[(frame["method"] == "lora") & (frame["seed"] == 0)]["metric"].iloc[0]
    assert matrix.loc["lora", "mean of healthy seeds"] == f"{healthy:.4f}"
    assert matrix.loc["lora", "metric"] == "accuracy"


def test_pareto_front_and_plot(tmp_path):
    points = pd.DataFrame(
        {"method": ["a", "b", "c"], "cost": [1.0, 2.0, 3.0], "value": [0.5, 0.4, 0.9]}
    )
    assert list(pareto_front(points, "cost", "value")["method"]) == ["a", "c"]
    summary = method_summary(_frame())
    assert list(summary["method"]) == ["full", "lora"]
    path = pareto_plot(summary, "t on m", "accuracy", tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_configuration_with_collapsed_seeds_is_counted_and_kept_off_the_front(tmp_path):
    frame = _frame(collapse_lora_seed=1)
    summary = method_summary(frame).set_index("method")
    assert (summary.loc["lora", "collapsed"], summary.loc["lora", "seeds"]) == (1, 2)
    healthy = frame[(frame["method"] == "lora") & (frame["seed"] == 0)]["metric"].iloc[0]
    assert summary.loc["lora", "metric_mean"] == healthy  # the collapsed seed is not averaged
    # cheaper than full and as good: on the front, were it not for the collapse
    assert list(sound_front(summary.reset_index(), "peak_mem_mib")["method"]) == ["full"]
    path = pareto_plot(summary.reset_index(), "t on m", "accuracy", tmp_path / "p.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
