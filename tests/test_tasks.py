"""Packaged tasks load from their pinned wheels with the documented sizes; splits are sound."""

import pytest

from bench.core.registry import TASKS
from bench.data.splits import make_split

pytestmark = pytest.mark.slow

# task -> (examples in the wheel, examples per label in label order)
DOCUMENTED = {
    "tweet_sentiment": (38158, [16186, 15018, 6954]),
    "rotten_tomatoes": (12808, [5405, 7403]),
    "sms_spam": (4862, [4220, 642]),
    "bbc_news": (2225, [510, 386, 417, 511, 401]),
    "drug_reviews": (979, [256, 90, 633]),
    "newsgroups20": (
        18821,
        [
            799,
            973,
            966,
            982,
            963,
            985,
            975,
            989,
            996,
            994,
            999,
            991,
            984,
            990,
            987,
            996,
            909,
            940,
            775,
            628,
        ],
    ),
    "reuters_r8": (7674, [2292, 374, 3923, 51, 271, 293, 144, 326]),
    "health_tweets": (
        63326,
        [
            3509,
            4215,
            3929,
            3741,
            4061,
            3239,
            2000,
            2997,
            7864,
            4171,
            3199,
            4837,
            6245,
            4719,
            1400,
            3200,
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_packaged_task_sizes_labels_and_split(name):
    task = TASKS.get(name)
    raw = task.load()
    total, per_label = DOCUMENTED[name]
    assert len(raw.texts) == total == task.size
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
    from bench.evaluate.metrics import compute_metrics, per_class_recall

    assert per_class_recall([0, 0, 1, 1], [0, 1, 1, 1], ("ham", "spam")) == {
        "ham": 0.5,
        "spam": 1.0,
    }
    assert compute_metrics(["balanced_accuracy"], [0, 0, 1, 1], [0, 1, 1, 1]) == {
        "balanced_accuracy": 0.75
    }


def test_chatterbot_sft_pairs_topics_and_grouped_split():
    task = TASKS.get("chatterbot_sft")
    raw = task.load()
    assert len(raw.texts) == len(raw.responses) == task.size == 2393
    assert task.kind == "generation" and len(raw.label_names) == 21
    assert raw.labels.count(raw.label_names.index("tech_support")) == 1050
    split = make_split(raw, task.val_size, task.test_size)
    prompts = [
        set(t.lower() for t in getattr(split, p).texts) for p in ("train", "validation", "test")
    ]
    assert not (prompts[0] & prompts[1]) and not (prompts[0] & prompts[2])
    assert not (prompts[1] & prompts[2])
    assert len(prompts[2]) == task.test_size and len(prompts[1]) == task.val_size
    assert all(split.test.responses) and split == make_split(raw, task.val_size, task.test_size)
