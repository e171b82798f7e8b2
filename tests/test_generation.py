"""SFT encoding masks exactly the prompt; generation metrics match sacrebleu / rouge-score."""

import math

import pytest
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from bench.cell.run import run_cell
from bench.core.spec import CellSpec, freeze_settings
from bench.data.splits import collate
from bench.evaluate.generation import IGNORE, encode_sft, prompt_text, token_loss
from bench.evaluate.metrics import corpus_bleu, exact_match, final_number, rouge_l
from bench.models.sources import byte_tokenizer


def test_sft_labels_cover_exactly_the_response_and_eos():
    tok = byte_tokenizer()
    enc = encode_sft(tok, ["hi there", "q"], ["hello", "answer!"], [0, 1], max_length=128)
    for ids, labels, prompt, response in zip(
        enc.input_ids, enc.token_labels, ["hi there", "q"], ["hello", "answer!"], strict=True
    ):
        p = tok(prompt_text(tok, prompt), add_special_tokens=False)["input_ids"]
        r = tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        assert ids == p + r
        assert labels == [IGNORE] * len(p) + r
    batch = collate(enc, [0, 1], pad_id=tok.pad_token_id)
    assert batch["labels"].shape == batch["input_ids"].shape
    padded = batch["attention_mask"] == 0
    assert (batch["labels"][padded] == IGNORE).all()


def test_sft_truncation_keeps_prompt_tail_and_response_head():
    tok = byte_tokenizer()
    enc = encode_sft(tok, ["x" * 100], ["y" * 100], [0], max_length=40)
    ids, labels = enc.input_ids[0], enc.token_labels[0]
    assert len(ids) == 40 and labels.count(IGNORE) == 20
    assert tok.decode(ids[20:]) == "y" * 20


def test_token_loss_is_token_weighted():
    out = token_loss([(6.0, 3), (2.0, 1)])
    assert out["loss"] == pytest.approx(2.0) and out["perplexity"] == pytest.approx(math.e**2)


def test_bleu_and_rouge_match_the_libraries_on_hand_made_cases():
    hyps = ["the cat sat on the mat", "a quick brown fox"]
    refs = [["the cat sat on a mat"], ["the quick brown fox jumps"]]
    expected = BLEU().corpus_score(hyps, [[r[0] for r in refs]]).score
    assert corpus_bleu(hyps, refs) == pytest.approx(expected)
    assert corpus_bleu(["same words here again"], [["same words here again"]]) == pytest.approx(100)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    assert rouge_l(hyps[0], refs[0]) == pytest.approx(
        scorer.score(refs[0][0], hyps[0])["rougeL"].fmeasure
    )
    # LCS "the cat sat" of 3 words: precision 3/3, recall 3/4 -> F = 6/7; the best reference wins
    assert rouge_l("the cat sat", ["the cat sat down", "dog"]) == pytest.approx(6 / 7)


@pytest.mark.parametrize(
    "text, number",
    [
        ("so she has 3 + 4 = 7 apples\n#### 7", "7"),
        ("The answer is 1,234.", "1234"),
        ("It costs $18.00 in all", "18.00"),
        ("it is 5.0", "5"),
        ("no digits", None),
    ],
)
def test_final_number(text, number):
    assert final_number(text) == number


def test_exact_match_compares_final_numbers():
    assert exact_match("I think it is 72", ["... #### 72"]) == 1.0
    assert exact_match("I think it is 71", ["... #### 72"]) == 0.0
    assert exact_match("no idea", ["#### 72"]) == 0.0


@pytest.mark.parametrize("method", ["full", "lora", "prompt_tuning"])
def test_sft_cell_trains_and_stores_generations(method):
    from bench.core.registry import METHODS

    info = METHODS.get(method)
    spec = CellSpec(
        model="tiny-llama",
        task="synthetic_reverse",
        method=method,
        seed=0,
        settings=freeze_settings(info.resolve_settings({})),
        lr=max(info.lr, 3e-3),
        train_size=200,
        max_length=40,
        batch_size=16,
        max_steps=12,
        max_new_tokens=8,
    )
    record = run_cell(spec)
    assert record["train_loss"]["last"] < record["train_loss"]["first"]
    assert {"test_loss", "perplexity", "bleu", "rouge_l"} <= set(record["metrics"])
    rows = record["predictions"]
    assert len(rows) == 50 and record["per_class_recall"] is None
    assert all(isinstance(r["extra"]["generated"], str) and r["extra"]["references"] for r in rows)
    assert record["metrics"]["rouge_l"] == pytest.approx(sum(r["pred"] for r in rows) / 50)


def test_generation_task_on_an_encoder_is_unsupported():
    from bench.core.errors import Unsupported

    spec = CellSpec(model="tiny-bert", task="synthetic_reverse", method="full", seed=0)
    with pytest.raises(Unsupported, match="needs a decoder"):
        run_cell(spec)
