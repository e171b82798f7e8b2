"""EDA as a regime: each operation on a fixed sentence with a fixed synonym source, the copies
and the record, the training part only, WordNet's synonyms, and the refusals."""

from __future__ import annotations

import dataclasses
import random

import pytest

from bench.cli.main import main
from bench.data.augment import (
    OPERATIONS,
    augmented,
    random_deletion,
    random_insertion,
    random_swap,
    synonym_replacement,
)
from bench.data.splits import Part
from tests.helpers import tiny_cell

WORDS = "the quick fox jumps over a lazy dog".split()
SYNONYMS = {"quick": ("fast", "speedy"), "fox": ("vixen",), "lazy": ("idle",), "dog": ("hound",)}


def lookup(word: str) -> tuple[str, ...]:
    return SYNONYMS.get(word, ())


def test_synonym_replacement_changes_n_content_words_to_their_synonyms():
    out = synonym_replacement(WORDS, 0.25, random.Random(0), lookup)  # n = int(0.25 x 8) = 2
    changed = [(a, b) for a, b in zip(WORDS, out, strict=True) if a != b]
    assert len(out) == len(WORDS) and len(changed) == 2
    assert all(b in SYNONYMS[a] for a, b in changed)
    assert synonym_replacement(["the", "a"], 0.5, random.Random(0), lookup) == ["the", "a"]


def test_random_insertion_adds_n_synonyms_of_the_texts_own_words():
    out = random_insertion(WORDS, 0.25, random.Random(1), lookup)
    assert len(out) == len(WORDS) + 2
    added = list(out)
    for word in WORDS:
        added.remove(word)
    every = {s for found in SYNONYMS.values() for s in found}
    assert set(added) <= every


def test_random_swap_keeps_the_words_and_moves_some():
    out = random_swap(WORDS, 0.25, random.Random(2), lookup)
    assert sorted(out) == sorted(WORDS) and out != WORDS


def test_random_deletion_drops_words_but_never_all():
    out = random_deletion(WORDS, 0.3, random.Random(3), lookup)
    assert 0 < len(out) < len(WORDS) and all(w in WORDS for w in out)
    assert len(random_deletion(["a", "b"], 0.999, random.Random(0), lookup)) == 1
    assert random_deletion(["alone"], 0.9, random.Random(0), lookup) == ["alone"]


def test_copies_cycle_the_operations_after_the_originals_and_repeat_from_the_seed():
    part = Part(texts=[" ".join(WORDS), "quick lazy dog"], labels=[0, 1])
    out, record = augmented(part, 0.25, 4, seed=5, synonyms=lookup)
    again, _ = augmented(part, 0.25, 4, seed=5, synonyms=lookup)
    other, _ = augmented(part, 0.25, 4, seed=6, synonyms=lookup)
    assert out.texts == again.texts and out.texts != other.texts
    assert out.texts[:2] == part.texts and out.labels == [0, 1] + [0] * 4 + [1] * 4
    assert record["original_examples"] == 2 and record["examples"] == 10
    assert record["made"] == {op: 2 for op in OPERATIONS}


def test_wordnet_gives_synonyms_and_base_forms_offline():
    from bench.data.wordnet import synonyms

    assert {"automobile", "motorcar"} <= set(synonyms("car"))
    assert set(synonyms("cars")) == set(synonyms("car"))  # the regular plural detached
    assert "car" not in synonyms("car") and synonyms("qwzx") == ()


def test_only_the_training_part_is_augmented_and_the_cell_says_so():
    from bench.cell.setup import resolve

    plain = tiny_cell("lora", train_size=50)
    spec = dataclasses.replace(plain, augment=0.1, augment_copies=2)
    base, setup = resolve(plain), resolve(spec)
    assert len(setup.split.train) == 3 * len(base.split.train) == 150
    assert setup.split.test == base.split.test and setup.split.validation == base.split.validation
    assert setup.split.hash != base.split.hash and spec.cell_id != plain.cell_id
    assert setup.augmentation["examples"] == 150 and "EDA 0.1 x2" in spec.label()
    assert plain.to_json() == dataclasses.replace(plain, augment=None).to_json()


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--augment", "1"], "--augment 1 is not allowed: it must be > 0 and < 1"),
        (["--augment-copies", "2"], "--augment-copies 2 changes nothing without --augment"),
        (["--augment", "0.1", "--augment-copies", "0"], "--augment-copies 0 is not allowed"),
        (
            ["--augment", "0.1", "--tasks", "synthetic_tokens"],
            "synthetic_tokens is a token task; EDA edits the words of a labelled text",
        ),
    ],
)
def test_augmentation_that_cannot_be_honoured_is_refused(tmp_path, capsys, extra, needle):
    args = ["run", "--suite", "smoke", "--dry-run", "--store", str(tmp_path / "s.sqlite")]
    assert main([*args, *extra]) == 2
    assert needle in capsys.readouterr().err
