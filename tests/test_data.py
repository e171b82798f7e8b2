from collections import Counter

import numpy as np
import pytest
import torch

from bench.data.splits import (
    RawData,
    batch_order,
    clean_text,
    collate,
    deduplicate,
    encode,
    make_split,
)
from bench.models.sources import byte_tokenizer


def _raw(n: int = 900) -> RawData:
    texts = [f"text number {i}" for i in range(n)]
    labels = [0 if i % 10 < 5 else (1 if i % 10 < 8 else 2) for i in range(n)]  # 50/30/20 %
    return RawData(texts=texts, labels=labels, label_names=("a", "b", "c"))


def test_clean_text_unescapes_and_collapses():
    assert clean_text("  a &amp; b <br/>  c\n\td ") == "a & b c d"


def test_dedup_keeps_first_and_drops_conflicts():
    texts, labels, dropped = deduplicate(
        ["Hello", "hello ", "World", "world", "x", ""], [0, 0, 1, 2, 1, 0]
    )
    assert texts == ["Hello", "x"]
    assert labels == [0, 1]
    assert dropped == {"empty": 1, "duplicates": 2, "conflicting_texts": 1}


def test_split_is_deterministic_and_hash_matches():
    a = make_split(_raw(), val_size=100, test_size=200)
    b = make_split(_raw(), val_size=100, test_size=200)
    assert a == b
    assert a.hash == b.hash
    assert len(a.test[0]) == 200 and len(a.validation[0]) == 100 and len(a.train[0]) == 600


def test_split_is_stratified_and_disjoint():
    split = make_split(_raw(), val_size=100, test_size=200)
    for part, size in (("train", 600), ("validation", 100), ("test", 200)):
        counts = Counter(getattr(split, part)[1])
        for label, share in ((0, 0.5), (1, 0.3), (2, 0.2)):
            assert abs(counts[label] - share * size) <= 1
    train, val, test = (set(getattr(split, p)[0]) for p in ("train", "validation", "test"))
    assert not (train & val) and not (train & test) and not (val & test)


def test_train_cap_keeps_test_fixed_and_changes_hash():
    full = make_split(_raw(), val_size=100, test_size=200)
    capped = make_split(_raw(), val_size=100, test_size=200, train_size=150)
    assert capped.test == full.test and capped.validation == full.validation
    assert len(capped.train[0]) == 150 and set(capped.train[0]) <= set(full.train[0])
    assert capped.hash != full.hash
    assert capped.distribution()["train"] == {"a": 75, "b": 45, "c": 30}


def test_batches_are_seeded_and_cover_every_example():
    a = batch_order(10, 4, 1.0, seed=3)
    assert a == batch_order(10, 4, 1.0, seed=3)
    assert a != batch_order(10, 4, 1.0, seed=4)
    assert sorted(i for b in a for i in b) == list(range(10))
    assert [len(b) for b in a] == [4, 4, 2]


def test_collate_pads_and_masks():
    enc = encode(byte_tokenizer(), ["abc", "a"], [0, 1], max_length=8)
    batch = collate(enc, [0, 1], pad_id=0)
    assert batch["input_ids"].shape == (2, 3)
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [0, 1]


def test_pairs_are_encoded_together_and_hashed():
    tok = byte_tokenizer()
    enc = encode(tok, ["ab", "c"], [0, 1], max_length=8, texts_b=["xyz", "d"])
    assert enc.input_ids[0] == tok("ab", "xyz")["input_ids"]
    paired = RawData(
        texts=[f"t{i}" for i in range(100)],
        labels=[i % 2 for i in range(100)],
        label_names=("x", "y"),
        texts_b=[f"u{i}" for i in range(100)],
    )
    split = make_split(paired, val_size=10, test_size=20)
    assert (
        len(split.test.texts_b) == 20
        and split.hash
        != make_split(
            RawData(paired.texts, paired.labels, paired.label_names), val_size=10, test_size=20
        ).hash
    )
    single = RawData(paired.texts, paired.labels, paired.label_names)
    assert make_split(single, val_size=10, test_size=20).train.texts_b is None


def test_regression_split_is_stratified_by_score_quintile():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 5, 500).round(3).tolist()
    raw = RawData(texts=[f"s{i}" for i in range(500)], labels=scores, label_names=())
    split = make_split(raw, val_size=50, test_size=100)
    enc = encode(byte_tokenizer(), split.test.texts, split.test.labels, 8, regression=True)
    assert collate(enc, [0, 1], 0)["labels"].dtype == torch.float
    assert abs(np.mean(split.test.labels) - np.mean(split.train.labels)) < 0.15
    assert set(split.distribution()["test"]) == {"n", "q0", "q25", "q50", "q75", "q100"}


def test_generation_split_keeps_every_response_of_a_prompt_together():
    prompts = [f"p{i // 3}" for i in range(300)]  # 100 prompts, 3 responses each
    raw = RawData(
        texts=prompts,
        labels=[(i // 3) % 2 for i in range(300)],
        label_names=("a", "b"),
        responses=[f"r{i}" for i in range(300)],
    )
    split = make_split(raw, val_size=10, test_size=20)
    parts = [set(getattr(split, p).texts) for p in ("train", "validation", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert len(parts[2]) == 20 and len(split.test) == 60


def test_class_balancing_down_and_up():
    labels = [0] * 80 + [1] * 20
    raw = RawData(texts=[f"t{i}" for i in range(100)], labels=labels, label_names=("a", "b"))
    down = make_split(raw, val_size=10, test_size=10, balance="down")
    up = make_split(raw, val_size=10, test_size=10, balance="up")
    plain = make_split(raw, val_size=10, test_size=10)
    assert down.train.labels.count(0) == down.train.labels.count(1) == 16
    assert up.train.labels.count(0) == up.train.labels.count(1) == 64
    assert down.test == plain.test and up.test == plain.test
    assert set(down.train.texts) <= set(plain.train.texts) == set(up.train.texts)
    with pytest.raises(ValueError, match="not one of down, up"):
        make_split(raw, val_size=10, test_size=10, balance="sideways")
