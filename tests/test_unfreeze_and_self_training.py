"""Progressive unfreezing (top blocks first) and self-training with pseudo-labels from the
unlabelled rest of a k-shot training split."""

from __future__ import annotations

import pytest
import torch

from bench.cell.run import run_cell
from bench.cell.train_loop import LoopConfig, train_loop
from bench.core.registry import TASKS
from bench.data.splits import Encoded, encode, make_split
from bench.models.sources import get_model
from bench.plan.validate import check_cells
from bench.regimes.self_training import select_pseudo_labels, with_pseudo_labels
from bench.regimes.unfreeze import ProgressiveUnfreezing, block_index, unfreezing_stages
from tests.helpers import tiny_cell


def test_stages_go_from_the_head_down_the_blocks_to_the_embeddings():
    model, _ = get_model("tiny-bert").load("classification", 2)
    stages = unfreezing_stages(model)
    depth = model.config.num_hidden_layers
    assert len(stages) == 1 + depth + 1
    assert any(n.startswith("classifier") for n in stages[0])
    assert {block_index(n) for stage in stages[1:-1] for n in stage} == set(range(depth))
    assert [block_index(stage[0]) for stage in stages[1:-1]] == list(reversed(range(depth)))
    assert all("embeddings" in n for n in stages[-1])
    assert sorted(n for s in stages for n in s) == sorted(n for n, _ in model.named_parameters())


def test_a_lower_block_stays_unchanged_until_its_turn_and_then_trains():
    torch.manual_seed(0)
    model, tokenizer = get_model("tiny-bert").load("classification", 2)
    texts = [f"word{i} other{i % 5}" for i in range(64)]
    data = encode(tokenizer, texts, [i % 2 for i in range(64)], 16)
    unfreeze = ProgressiveUnfreezing(model, every=2)
    bottom = [n for n in unfreeze.stages[-1]]
    start = {n: p.detach().clone() for n, p in model.named_parameters()}
    cfg = LoopConfig(lr=1e-2, batch_size=8, max_steps=2, warmup_ratio=0.0)
    train_loop(model, data, torch.device("cpu"), 0, cfg, unfreeze=unfreeze)
    after = dict(model.named_parameters())
    for name in bottom:  # steps 1 and 2 ran with only the head and the top block
        torch.testing.assert_close(after[name].detach(), start[name])
    top = unfreeze.stages[0][0]
    assert not torch.equal(after[top].detach(), start[top])
    stages = len(unfreeze.stages)
    cfg = LoopConfig(lr=1e-2, batch_size=8, max_steps=2 * stages, warmup_ratio=0.0)
    train_loop(model, data, torch.device("cpu"), 0, cfg, unfreeze=unfreeze)
    assert not torch.equal(after[bottom[0]].detach(), start[bottom[0]])
    summary = unfreeze.summary()
    assert summary["joined_at_step"] == [0, *range(2, 2 * stages - 1, 2)]
    assert summary["all_trained_from_step"] == 2 * (stages - 1)


def test_pseudo_labels_keep_the_confident_predictions_under_their_predicted_class():
    probs = [[0.95, 0.05], [0.6, 0.4], [0.1, 0.9], [0.2, 0.8]]
    picks = select_pseudo_labels(probs, 0.85)
    assert picks.indices == [0, 2] and picks.labels == [0, 1] and picks.pool_size == 4
    labelled = Encoded(input_ids=[[1], [2]], labels=[1, 0])
    pool = Encoded(input_ids=[[10], [11], [12], [13]], labels=[9, 9, 9, 9])  # never read
    both = with_pseudo_labels(labelled, pool, picks)
    assert both.input_ids == [[1], [2], [10], [12]] and both.labels == [1, 0, 0, 1]


def test_a_k_shot_split_keeps_the_undrawn_training_examples_as_its_unlabelled_pool():
    task = TASKS.get("synthetic_rule")
    full = make_split(task.load(), task.val_size, task.test_size, train_size=200)
    split = make_split(task.load(), task.val_size, task.test_size, 200, shots=4, shot_seed=0)
    assert split.unlabelled is not None
    assert len(split.train) + len(split.unlabelled) == len(full.train)
    assert not set(split.train.texts) & set(split.unlabelled.texts)
    assert make_split(task.load(), task.val_size, task.test_size, 200).unlabelled is None


def test_a_self_training_cell_trains_a_student_on_labelled_and_confident_pseudo_labels():
    spec = tiny_cell("full", shots=8, self_training=0.3, unfreeze_every=1, lr=1e-3)
    record = run_cell(spec)
    st = record["regime"]["self_training"]
    labels = len(TASKS.get("synthetic_rule").labels)
    assert st["threshold"] == 0.3 and st["pool"] == 200 - 8 * labels
    assert st["kept"] == sum(st["kept_per_class"]) > 0  # 3 classes: every max prob is >= 1/3
    assert st["student_examples"] == 8 * labels + st["kept"]
    assert 0 <= st["pseudo_label_accuracy"] <= 1 and "val_accuracy" in st["teacher_validation"]
    assert record["regime"]["progressive_unfreezing"]["every"] == 1
    assert record["evaluated_on"] == "test" and record["status"] == "ok"
    assert "self-training >= 0.3" in spec.label()


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"self_training": 0.9}, "--shots"),
        ({"self_training": 1.5, "shots": 4}, "0 < threshold <= 1"),
        ({"unfreeze_every": 0}, "unfreeze_every"),
    ],
)
def test_bad_regimes_are_refused_before_training(fields, words):
    with pytest.raises(ValueError, match=words):
        check_cells([tiny_cell("full", **fields)])
