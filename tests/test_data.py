from collections import Counter

from bench.data import RawData, batch_order, clean_text, collate, deduplicate, encode, make_split
from bench.models import byte_tokenizer


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
