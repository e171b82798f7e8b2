"""Packaged tasks load from their pinned wheels with the documented sizes; splits are sound."""

import pytest

from bench.data import make_split
from bench.registry import TASKS

pytestmark = pytest.mark.slow

# task -> (examples in the wheel, examples per label in label order)
DOCUMENTED = {
    "tweet_sentiment": (38158, [16186, 15018, 6954]),
    "rotten_tomatoes": (12808, [5405, 7403]),
    "sms_spam": (4862, [4220, 642]),
    "bbc_news": (2225, [510, 386, 417, 511, 401]),
    "drug_reviews": (979, [256, 90, 633]),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_packaged_task_sizes_labels_and_split(name):
    task = TASKS.get(name)
    raw = task.load()
    total, per_label = DOCUMENTED[name]
    assert len(raw.texts) == total
    assert [raw.labels.count(k) for k in range(len(task.labels))] == per_label
    assert raw.label_names == task.labels and task.offline
    split = make_split(raw, task.val_size, task.test_size)
    assert split == make_split(task.load(), task.val_size, task.test_size)
    parts = [set(t.lower() for t in getattr(split, p)[0]) for p in ("train", "validation", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(split.test[0]) == task.test_size and len(split.validation[0]) == task.val_size
    test_share = [split.test[1].count(k) / task.test_size for k in range(len(task.labels))]
    train_share = [split.train[1].count(k) / len(split.train[1]) for k in range(len(task.labels))]
    assert max(abs(a - b) for a, b in zip(test_share, train_share, strict=True)) < 0.01


def test_per_class_recall_names_every_class():
    from bench.metrics import compute_metrics, per_class_recall

    assert per_class_recall([0, 0, 1, 1], [0, 1, 1, 1], ("ham", "spam")) == {
        "ham": 0.5,
        "spam": 1.0,
    }
    assert compute_metrics(["balanced_accuracy"], [0, 0, 1, 1], [0, 1, 1, 1]) == {
        "balanced_accuracy": 0.75
    }
