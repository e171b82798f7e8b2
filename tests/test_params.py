"""Counts on the meta device against numbers published in model cards and papers."""

import pytest

from bench.cli.common import parse_setting
from bench.cli.main import main
from bench.core.errors import UnknownName
from bench.plan.meta_model import count_on_meta

# Parameter counts of the base models as their model cards / the transformers classes give them.
PUBLISHED_TOTALS = {
    "gpt2": 124_439_808,
    "gpt2-medium": 354_823_168,
    "gpt2-large": 774_030_080,
    "gpt2-xl": 1_557_611_200,
    "Llama-2-7B": 6_738_415_616,
    "Llama-2-13B": 13_015_864_320,
    "Llama-2-70B": 68_976_648_192,
    "Llama-3.1-8B": 8_030_261_248,
    "Llama-3.2-3B": 3_212_749_824,  # peft's method_comparison full fine-tuning result
    "Mistral-7B": 7_241_732_096,
    "Qwen2.5-0.5B": 494_032_768,
    "Qwen2.5-1.5B": 1_543_714_304,
    "Qwen2.5-7B": 7_615_616_512,
    "smollm2": 134_515_008,
}


@pytest.mark.parametrize(("model", "total"), sorted(PUBLISHED_TOTALS.items()))
def test_decoder_totals_match_published_counts(model, total):
    assert count_on_meta(model, "full", task_kind="generation")["total_params"] == total


def test_encoder_totals_match_published_counts():
    bert = count_on_meta("bert-base-uncased", "full", num_labels=2)
    assert bert["total_params"] - bert["head_params"] == 109_482_240  # BertModel with pooler
    minilm = count_on_meta("minilm", "full", num_labels=3)
    assert minilm["total_params"] - minilm["head_params"] == 22_713_216
    roberta = count_on_meta("roberta-base", "full", num_labels=2)
    # RobertaModel is 124,645,632 with its pooler (590,592), which classification replaces.
    assert roberta["total_params"] - roberta["head_params"] == 124_645_632 - 590_592


def test_lora_counts_match_papers():
    # peft's README: "trainable params: 4,194,304 || all params: 6,742,609,920"
    llama = count_on_meta("Llama-2-7B", "lora", task_kind="generation")
    assert (llama["trainable_params"], llama["total_params"]) == (4_194_304, 6_742_609_920)
    # peft's method_comparison (MetaMathQA), lora--llama-3.2-3B-rank32: r=32 on q and v.
    small = count_on_meta("Llama-3.2-3B", "lora", {"r": 32, "alpha": 64}, task_kind="generation")
    assert (small["trainable_params"], small["total_params"]) == (9_175_040, 3_221_924_864)
    # LoRA paper, Table 2: RoBERTa-base 0.3M and RoBERTa-large 0.8M with r=8 on q and v.
    assert count_on_meta("roberta-base", "lora")["method_params"] == 294_912
    assert count_on_meta("roberta-large", "lora")["method_params"] == 786_432


def test_quantized_counts_are_logical():
    lora = count_on_meta("Qwen2.5-0.5B", "lora", task_kind="generation")
    qlora = count_on_meta("Qwen2.5-0.5B", "qlora", task_kind="generation")
    assert qlora["total_params"] == lora["total_params"]
    assert qlora["trainable_params"] == lora["trainable_params"]


def test_lora_on_every_linear_layer_and_the_lm_head():
    """peft's count for r=8 on Llama-2-7B's seven projections (19,988,480), and torchtune's
    'all layers', which adds the LM head: r x (4,096 + 32,000) more."""
    every = count_on_meta("Llama-2-7B", "lora", {"targets": "all-linear"}, task_kind="generation")
    assert every["method_params"] == 19_988_480
    head = count_on_meta(
        "Llama-2-7B", "lora", {"targets": "all-linear,lm_head"}, task_kind="generation"
    )
    assert head["method_params"] - every["method_params"] == 8 * (4096 + 32000)


def test_settings_change_the_count():
    r16 = count_on_meta("roberta-base", "lora", {"r": 16, "targets": ("q", "k", "v")})
    assert r16["method_params"] == 12 * 3 * 16 * (768 + 768)


def test_unknown_model_lists_shipped_configs():
    with pytest.raises(UnknownName, match="Valid shipped configs: .*Llama-2-7B"):
        count_on_meta("llama-9000", "lora")


def test_cli_params_prints_the_table(capsys):
    assert (
        main(["params", "--model", "Llama-2-7B", "--method", "lora", "--task-kind", "generation"])
        == 0
    )
    out = capsys.readouterr().out
    assert "| Llama-2-7B | lora" in out and "4,194,304" in out and "6,742,609,920" in out


def test_cli_params_reports_bad_values(capsys):
    assert main(["params", "--model", "gpt2", "--method", "lora", "--set", "rank=4"]) == 2
    assert "no setting 'rank'" in capsys.readouterr().err


def test_parse_setting():
    assert parse_setting("r=16") == ("r", 16)
    assert parse_setting("targets=q,v") == ("targets", ("q", "v"))
    assert parse_setting("targets=attention") == ("targets", "attention")
    assert parse_setting("fraction=None") == ("fraction", None)
    assert parse_setting("double_quant=false") == ("double_quant", False)
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_setting("r16")
