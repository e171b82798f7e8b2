"""Multi-task mixtures: the joined split, the task-balanced sampler, a head per task in the loss
and in prediction, a shared cell end to end and its per-task comparison."""

from __future__ import annotations

import dataclasses
import random
from collections import Counter

import pytest
import torch

from bench.core.registry import TASKS, register_task
from bench.data.mixture import (
    balanced_batch_order,
    masked_logits,
    mixture_split,
    register_mixture,
    task_loss,
)
from bench.data.splits import LABEL_SPAN, RawData, make_split
from bench.evaluate.mixture_scores import mixture_metrics
from tests.helpers import tiny_cell

PARITY = ("even", "odd")


@pytest.fixture
def tiny_mixture():
    """A second synthetic classification task (is the count of filler words even) and the
    mixture of it with synthetic_rule, registered for one test."""

    @register_task(
        "synthetic_parity",
        kind="classification",
        labels=PARITY,
        metric="macro_f1",
        metrics=("macro_f1", "accuracy"),
        val_size=40,
        test_size=60,
        size=400,
        version=1,
    )
    def load() -> RawData:
        rng = random.Random(1)
        texts, labels = [], []
        for i in range(400):
            n = rng.randint(3, 9)
            texts.append(" ".join(f"p{rng.randrange(30)}" for _ in range(n)) + f" n{i}")
            labels.append(n % 2)
        return RawData(texts=texts, labels=labels, label_names=PARITY)

    register_mixture("synthetic_pair", ("synthetic_rule", "synthetic_parity"))
    yield "synthetic_pair"
    TASKS.remove("synthetic_pair")
    TASKS.remove("synthetic_parity")


def test_mixture_split_joins_each_tasks_own_split(tiny_mixture):
    split = mixture_split(("synthetic_rule", "synthetic_parity"), train_size=100)
    rule, parity = TASKS.get("synthetic_rule"), TASKS.get("synthetic_parity")
    own_rule = make_split(rule.load(), rule.val_size, rule.test_size, 100)
    own_parity = make_split(parity.load(), parity.val_size, parity.test_size, 100)
    first, second = split.blocks
    assert (first.label_offset, second.label_offset) == (0, 3)
    assert split.label_names == (
        *(f"synthetic_rule:{n}" for n in rule.labels),
        "synthetic_parity:even",
        "synthetic_parity:odd",
    )
    for part in ("train", "validation", "test"):
        mine, a, b = getattr(split, part), getattr(own_rule, part), getattr(own_parity, part)
        assert mine.texts == a.texts + b.texts
        assert mine.labels == a.labels + [3 + y for y in b.labels]
        assert first.rows[part] == (0, len(a)) and second.rows[part] == (len(a), len(a) + len(b))


def test_balanced_sampler_draws_every_task_equally_and_is_seeded():
    tasks = [0] * 90 + [1] * 10  # a large and a small task
    batches = balanced_batch_order(tasks, 8, 1.0, seed=5)
    flat = [i for b in batches for i in b]
    assert len(flat) == 100
    drawn = Counter(tasks[i] for i in flat)
    assert drawn == {0: 50, 1: 50}
    small = Counter(i for i in flat if tasks[i] == 1)
    assert set(small) == set(range(90, 100)) and set(small.values()) == {5}  # each 5 times
    assert len(set(i for i in flat if tasks[i] == 0)) == 50  # the large one without repeats
    assert balanced_batch_order(tasks, 8, 1.0, seed=5) == batches
    assert balanced_batch_order(tasks, 8, 1.0, seed=6) != batches


def test_a_row_is_scored_over_its_own_tasks_labels_only():
    logits = torch.tensor([[5.0, 1.0, 0.0, 9.0, 2.0], [9.0, 0.0, 0.0, 1.0, 3.0]])
    span = torch.tensor([[0, 3], [3, 5]])
    masked = masked_logits(logits, span)
    assert masked.argmax(-1).tolist() == [0, 4]
    labels = torch.tensor([1, 3])
    outputs = type("Out", (), {"logits": logits, "loss": torch.tensor(0.0)})()
    expected = (
        torch.nn.functional.cross_entropy(logits[0, :3][None], labels[:1])
        + torch.nn.functional.cross_entropy(logits[1, 3:][None], labels[1:] - 3)
    ) / 2
    loss = task_loss(outputs, {"labels": labels, LABEL_SPAN: span})
    assert torch.isclose(loss, expected)
    assert task_loss(outputs, {"labels": labels}) is outputs.loss


def test_mixture_metrics_score_each_task_in_its_own_ids(tiny_mixture):
    split = mixture_split(("synthetic_rule", "synthetic_parity"), train_size=100)
    tasks = [0, 0, 0, 1, 1]
    metrics = mixture_metrics(split.blocks, tasks, [0, 1, 2, 3, 4], [0, 1, 1, 3, 3])
    assert metrics["synthetic_rule/accuracy"] == pytest.approx(2 / 3)
    assert metrics["synthetic_parity/macro_f1"] == pytest.approx((2 / 3 + 0) / 2)
    assert metrics["task_mean"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert metrics["accuracy"] == pytest.approx(3 / 5)


def test_mixture_refuses_what_it_cannot_honour(tiny_mixture):
    from bench.plan.validate import check_cells

    check_cells([dataclasses.replace(tiny_cell(), task=tiny_mixture)])  # none given: fine
    for field, value in (("shots", 4), ("balance", "down"), ("augment", 0.1), ("inference", True)):
        spec = dataclasses.replace(tiny_cell(), task=tiny_mixture, **{field: value})
        with pytest.raises(ValueError, match=f"{field}: synthetic_pair is a multi-task mixture"):
            check_cells([spec])


def test_a_shared_cell_trains_and_is_compared_per_task(tiny_mixture, store):
    from bench.cell.run import run_cell
    from bench.report.cells_table import cells_frame
    from bench.report.multitask_table import multitask_section, task_rows

    for seed in (0, 1):
        shared = dataclasses.replace(
            tiny_cell("houlsby", seed=seed, train_size=60, max_steps=None, epochs=1.0),
            task=tiny_mixture,
        )
        result = run_cell(shared)
        assert [b["task"] for b in result["data"]["tasks"]] == [
            "synthetic_rule",
            "synthetic_parity",
        ]
        assert result["primary_metric"] == "task_mean"
        assert result["speed"]["steps"] == 8  # 120 examples in batches of 16
        assert "synthetic_parity/macro_f1" in result["metrics"]
        for block in result["data"]["tasks"]:  # every row predicted among its task's labels
            start, end = block["rows"]["test"]
            low, high = block["label_offset"], block["label_offset"] + len(block["labels"])
            assert all(low <= r["pred"] < high for r in result["predictions"][start:end])
        store.save(shared, {**result, "status": "ok"})
        for task in ("synthetic_rule", "synthetic_parity"):
            own = dataclasses.replace(shared, task=task)
            store.save(own, {**run_cell(own), "status": "ok"})
    frame = cells_frame(store.cells())
    ok = frame[frame["status"] == "ok"]
    found = task_rows(ok[ok["task"] == tiny_mixture], ok, store)
    assert [r.task for r in found] == ["synthetic_rule", "synthetic_parity"]
    for row in found:
        assert row.seeds == [0, 1] and len(row.shared) == 2
        assert row.result is not None or row.collapsed
    text = "\n".join(multitask_section(ok, store))
    assert "one shared adapter against one per task" in text
    assert "Parameters to ship" in text


def _record(labels, preds, metric, tasks=None, trainable=10):
    """test_compare's stored record, under `metric`, with trainable parameters and a layout."""
    from tests.test_compare import _record as stored

    record = stored(preds, labels, 0.5)
    record["primary_metric"], record["metrics"] = metric, {metric: 0.5}
    record["params"]["trainable_params"] = trainable
    record["data"]["tasks"] = tasks
    return record


def test_per_task_difference_pairs_the_tasks_rows_with_its_own_cells(tiny_mixture, store):
    import numpy as np

    from bench.report.cells_table import cells_frame
    from bench.report.multitask_table import multitask_lines, multitask_section, task_rows
    from bench.stats.method_level import method_difference

    split = mixture_split(("synthetic_rule", "synthetic_parity"), train_size=100)
    blocks = [b.to_dict() for b in split.blocks]
    rule, parity = split.blocks
    y = np.array(split.test.labels)
    rng = np.random.default_rng(0)
    own_scores, shared_scores = [], []
    for seed in (0, 1, 2):
        shared = dataclasses.replace(tiny_cell("houlsby", seed=seed), task=tiny_mixture)
        preds = y.copy()
        for block, skill in ((rule, 0.9), (parity, 0.7)):
            start, end = block.rows["test"]
            wrong = rng.random(end - start) > skill
            size = len(block.labels)
            local = y[start:end] - block.label_offset
            preds[start:end] = block.label_offset + np.where(wrong, (local + 1) % size, local)
        store.save(shared, _record(y, preds, "task_mean", blocks, trainable=30))
        start, end = rule.rows["test"]
        shared_scores.append((preds[start:end] == y[start:end]).astype(float))
        for block, skill in ((rule, 0.8), (parity, 0.7)):
            start, end = block.rows["test"]
            local = y[start:end] - block.label_offset
            wrong = rng.random(end - start) > skill
            mine = np.where(wrong, (local + 1) % len(block.labels), local)
            own = dataclasses.replace(shared, task=block.task)
            store.save(own, _record(local, mine, block.metric, trainable=20))
            if block is rule:
                own_scores.append((mine == local).astype(float))
    frame = cells_frame(store.cells())
    rows = task_rows(frame[frame["task"] == tiny_mixture], frame, store)
    expected = method_difference(np.array(shared_scores), np.array(own_scores))
    assert rows[0].result.estimate == pytest.approx(expected.estimate)
    assert rows[0].result.pvalue == pytest.approx(expected.pvalue)
    assert rows[1].metric == "macro_f1" and rows[1].result is not None
    assert rows[0].holm is not None and rows[0].holm >= rows[0].result.pvalue
    text = "\n".join(multitask_section(frame, store))
    assert "shared 30; one per task 40 together (75.0% of that)" in text
    (line,) = multitask_lines("adapters", frame, store)
    assert line.startswith("- [houlsby shared over synthetic_pair](adapters.md#multi-task-one-")
    assert f"Holm p {rows[0].holm:.3g}" in line and "ships 30 trainable parameters" in line
