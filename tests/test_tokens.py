"""The token task kind and dynamic masking: WNUT-16's split, words aligned to their first
sub-word token, entity F1 from per-sentence counts against seqeval (also on resamples), a token
cell end to end, and the masking (special tokens never, labels kept, reproducible)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from seqeval.metrics import f1_score

from bench.cli.main import main
from bench.core.registry import TASKS
from bench.data.splits import IGNORE, make_split
from bench.evaluate.metrics import ENTITY_CODE, METRICS, entity_f1
from bench.evaluate.token_tags import encode_words, entity_counts
from bench.regimes.dynamic_mask import DynamicMask
from tests.helpers import tiny_cell

GOLD = [
    ["B-person", "I-person", "O", "B-geo-loc"],
    ["O", "O", "O"],
    ["B-company", "O", "B-person", "I-person", "I-person"],
    ["O", "B-other"],
]
GUESS = [
    ["B-person", "I-person", "O", "O"],  # one right, one missed
    ["O", "B-movie", "O"],  # one spurious
    ["B-company", "O", "B-person", "I-person", "O"],  # one right, one with the wrong span
    ["O", "B-other"],
]


def _rows(gold, guess):
    counts = [entity_counts(g, p) for g, p in zip(gold, guess, strict=True)]
    labels = np.array([c["gold"] for c in counts])
    packed = np.array([c["right"] * ENTITY_CODE + c["predicted"] for c in counts])
    return labels, packed


def test_entity_f1_from_sentence_counts_is_seqevals_on_every_resample():
    labels, packed = _rows(GOLD, GUESS)
    assert entity_f1(labels, packed) == pytest.approx(f1_score(GOLD, GUESS))
    assert METRICS["entity_f1"] is entity_f1
    rng = np.random.default_rng(0)
    for _ in range(20):  # what the method-level test resamples: sentences, with repeats
        i = rng.integers(0, len(GOLD), len(GOLD))
        expected = f1_score([GOLD[k] for k in i], [GUESS[k] for k in i], zero_division=0)
        assert entity_f1(labels[i], packed[i]) == pytest.approx(expected)
    assert entity_f1([0, 0], [0, 0]) == 0.0  # no entity on either side


def test_words_are_tagged_on_their_first_token_only():
    from bench.models.sources import byte_tokenizer

    tokenizer = byte_tokenizer()
    tags = ("O", "B-per", "I-per")
    encoded = encode_words(tokenizer, ["hi carol smith"], ["O B-per I-per"], [1], tags, 64)
    ids, labels = encoded.input_ids[0], encoded.token_labels[0]
    assert len(ids) == len(labels) == len("hi") + len("carol") + len("smith")  # one id a byte
    assert [x for x in labels if x != IGNORE] == [0, 1, 2]
    first = [i for i, x in enumerate(labels) if x != IGNORE]
    assert first == [0, 2, 2 + 5]  # each word's first byte
    cut = encode_words(tokenizer, ["hi carol smith"], ["O B-per I-per"], [1], tags, 6)
    assert [x for x in cut.token_labels[0] if x != IGNORE] == [0, 1]  # the last word cut off


def test_the_packaged_tweets_split_with_their_tags():
    task = TASKS.get("wnut16_ner")
    raw = task.load()
    assert len(raw.texts) == task.size == 2394 and sum(raw.labels) == 918
    split = make_split(raw, task.val_size, task.test_size)
    assert split.dropped == {"empty": 0, "duplicates": 99, "conflicting_texts": 14}
    assert (len(split.train), len(split.validation), len(split.test)) == (1581, 200, 500)
    for part in (split.train, split.validation, split.test):
        for text, tags in zip(part.texts, part.tags, strict=True):
            assert len(text.split(" ")) == len(tags.split(" "))
            assert set(tags.split(" ")) <= set(task.labels)
    entities = sum(t.count("B-") for t in split.test.tags)
    assert entities == 306
    assert split == make_split(task.load(), task.val_size, task.test_size)


def _token_cell(method: str = "full", seed: int = 0, **fields):
    spec = tiny_cell(method, seed=seed, max_steps=30, lr=3e-3)
    return dataclasses.replace(spec, task="synthetic_tokens", **fields)


def test_a_token_cell_scores_each_sentence_so_that_its_rows_give_its_f1(tmp_path):
    from bench.execute.runner import run_cells
    from bench.store.cell_store import Store

    spec = _token_cell()
    with Store(tmp_path / "s.sqlite") as store:
        run_cells([spec], store, in_process=True)
        record, rows = store.get(spec.cell_id), store.predictions(spec.cell_id)
    metrics = record["result"]["metrics"]
    assert record["result"]["primary_metric"] == "entity_f1"
    assert set(metrics) >= {"entity_f1", "entity_precision", "entity_recall", "token_accuracy"}
    labels, packed = [r["label"] for r in rows], [r["pred"] for r in rows]
    assert entity_f1(labels, packed) == pytest.approx(metrics["entity_f1"])
    assert metrics["entity_f1"] > 0.5  # the names are learnable in 30 steps
    assert record["result"]["params"]["head_params"] == 32 * 5 + 5  # hidden 32, five tags


def test_masking_never_touches_special_tokens_or_labels_and_repeats_from_the_seed():
    ids = torch.tensor(
        [[2, 10, 11, 12, 13, 14, 15, 3, 0, 0], [2, 20, 21, 22, 23, 24, 25, 26, 27, 3]]
    )
    attention = (ids != 0).long()
    labels = torch.arange(20).view(2, 10)
    batch = {"input_ids": ids, "attention_mask": attention, "labels": labels}
    mask = DynamicMask(0.5, mask_id=4, special_ids=[0, 2, 3], seed=7)
    first = mask.mask(batch, position=5)
    again = DynamicMask(0.5, mask_id=4, special_ids=[0, 2, 3], seed=7).mask(batch, position=5)
    assert torch.equal(first["input_ids"], again["input_ids"])  # the same seed and position
    assert not torch.equal(first["input_ids"], mask.mask(batch, position=6)["input_ids"])
    changed = first["input_ids"] != ids
    assert changed.any() and (first["input_ids"][changed] == 4).all()
    assert not changed[torch.isin(ids, torch.tensor([0, 2, 3]))].any()  # specials, padding
    assert torch.equal(first["labels"], labels) and torch.equal(batch["input_ids"], ids)
    big = torch.randint(5, 300, (64, 64))
    share = DynamicMask(0.15, 4, [0], 0).mask({"input_ids": big}, 0)["input_ids"] != big
    assert float(share.float().mean()) == pytest.approx(0.15, abs=0.02)


def test_a_masked_cell_records_its_share_and_keeps_its_own_id():
    from bench.cell.run import run_cell

    plain, masked = _token_cell(), _token_cell(dynamic_mask=0.2)
    assert plain.to_json() == dataclasses.replace(plain, dynamic_mask=None).to_json()
    assert masked.cell_id != plain.cell_id and "dynamic mask 0.2" in masked.label()
    record = run_cell(masked)
    regime = record["regime"]["dynamic_mask"]
    assert regime["fraction"] == 0.2 and regime["masked_share"] == pytest.approx(0.2, abs=0.03)


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--dynamic-mask", "1.5"], "--dynamic-mask 1.5 is not allowed: it must be > 0 and < 1"),
        (
            ["--dynamic-mask", "0.1", "--tasks", "synthetic_reverse", "--models", "tiny-llama"],
            "synthetic_reverse is a generation task; masking applies to classification, "
            "regression, token tasks",
        ),
    ],
)
def test_a_mask_that_cannot_be_honoured_is_refused_before_training(tmp_path, capsys, extra, needle):
    args = ["run", "--suite", "smoke", "--dry-run", "--store", str(tmp_path / "s.sqlite")]
    assert main([*args, *extra]) == 2
    assert needle in capsys.readouterr().err


def test_a_tokenizer_without_a_mask_token_cannot_mask():
    from bench.core.errors import Unsupported
    from bench.regimes.dynamic_mask import dynamic_mask_for

    class NoMask:
        mask_token_id = None

    assert dynamic_mask_for(None, NoMask(), 0) is None
    with pytest.raises(Unsupported, match="--dynamic-mask 0.1: the tokenizer \\(NoMask\\) has no"):
        dynamic_mask_for(0.1, NoMask(), 0)


def test_the_page_and_the_summary_set_each_masked_configuration_beside_its_twin(tmp_path):
    from bench.core.spec import SuiteSpec
    from bench.execute.runner import run_cells
    from bench.report.regime_summary import regime_lines
    from bench.report.suite_page import suite_report
    from bench.store.cell_store import Store

    cells = [
        dataclasses.replace(_token_cell(seed=s), dynamic_mask=m)
        for s in (0, 1)
        for m in (None, 0.15)
    ]
    with Store(tmp_path / "s.sqlite") as store:
        run_cells(cells, store, in_process=True)
        suite = SuiteSpec("tokens-test", ("tiny-bert",), ("synthetic_tokens",), ())
        page = suite_report(suite, cells, store, command="test")
        from bench.report.cells_table import cells_frame

        lines = regime_lines("tokens-test", cells_frame(store.cells()), store)
    assert "Dynamic masking, with and without:" in page
    assert "| full            | dynamic mask 0.15 |" in page and "2 / 2" in page
    assert len(lines) == 1 and "dynamic masking (dynamic mask 0.15), entity_f1" in lines[0]
