"""Training regimes as cell settings: gradient accumulation, early stopping with the best
checkpoint restored, and k labelled examples per class."""

from __future__ import annotations

from collections import Counter

import torch
from torch import nn

from bench.cell.run import run_cell
from bench.cell.train_loop import LoopConfig, train_loop
from bench.core.registry import TASKS
from bench.data.splits import encode, make_split
from bench.models.sources import get_model
from tests.helpers import tiny_cell


def _model_and_data():
    torch.manual_seed(0)
    model, tokenizer = get_model("tiny-bert").load("classification", 2)
    for module in model.modules():  # no dropout: the two ways must see the same network
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    texts = [f"word{i} other{i % 7} thing" for i in range(64)]
    return model, encode(tokenizer, texts, [i % 2 for i in range(64)], 16)


def test_two_accumulated_micro_batches_make_the_step_of_one_batch_twice_as_big():
    model, data = _model_and_data()
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    common = {"lr": 1e-2, "max_steps": 1, "warmup_ratio": 0.0, "grad_clip": 0.0}
    out = train_loop(
        model, data, torch.device("cpu"), 0, LoopConfig(batch_size=8, grad_accumulation=2, **common)
    )
    accumulated = {n: p.detach().clone() for n, p in model.named_parameters()}
    with torch.no_grad():
        for n, p in model.named_parameters():
            p.copy_(start[n])
    train_loop(model, data, torch.device("cpu"), 0, LoopConfig(batch_size=16, **common))
    for name, param in model.named_parameters():
        torch.testing.assert_close(accumulated[name], param.detach(), atol=2e-6, rtol=1e-5)
    assert out.samples_seen == 16 and len(out.losses) == 1
    assert out.timer.samples == [16]


def test_early_stopping_stops_after_patience_and_restores_the_best_checkpoint():
    model, data = _model_and_data()
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.9])
    snapshots = {}

    def evaluate() -> dict[str, float]:
        step = len(snapshots) + 1
        snapshots[step] = {n: p.detach().clone() for n, p in model.named_parameters()}
        return {"val_accuracy": next(scores)}

    cfg = LoopConfig(
        lr=1e-2,
        batch_size=8,
        max_steps=10,
        eval_every=1,
        early_stopping=2,
        select_metric="val_accuracy",
    )
    out = train_loop(model, data, torch.device("cpu"), 0, cfg, evaluate=evaluate)
    assert out.early_stopping == {
        "patience": 2,
        "metric": "val_accuracy",
        "best": 0.7,
        "best_step": 2,
        "stopped_at": 4,
    }
    assert len(out.losses) == 4  # stopped: the 0.9 at step 5 is never reached
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.detach(), snapshots[2][name])


def test_k_shot_draws_k_per_class_with_the_seed():
    raw = TASKS.get("synthetic_rule").load()
    task = TASKS.get("synthetic_rule")
    first = make_split(raw, task.val_size, task.test_size, shots=8, shot_seed=0)
    again = make_split(raw, task.val_size, task.test_size, shots=8, shot_seed=0)
    other = make_split(raw, task.val_size, task.test_size, shots=8, shot_seed=1)
    counts = Counter(first.train.labels)
    assert set(counts.values()) == {8} and len(counts) == len(first.label_names)
    assert first.hash == again.hash and first.hash != other.hash
    assert first.test == other.test  # only the training draw changes


def test_a_cell_records_its_regime():
    spec = tiny_cell("lora", shots=16, grad_accumulation=2, eval_every=1, early_stopping=1)
    record = run_cell(spec)
    regime = record["regime"]
    assert regime["shots"] == 16 and regime["effective_batch_size"] == 32
    assert record["data"]["train_examples"] == 16 * len(TASKS.get("synthetic_rule").labels)
    assert regime["early_stopping"]["metric"] == "val_accuracy"
    assert regime["early_stopping"]["best_step"] >= 1
