"""Names a user types resolve case-insensitively where unambiguous; otherwise the nearest."""

import pytest

from bench.cli.main import main
from bench.core.errors import UnknownName
from bench.core.registry import METHODS, TASKS, Registry
from bench.models.sources import canonical_model, get_model
from bench.plan.meta_model import config_for
from bench.plan.suites import SUITES, expand


def test_registries_ignore_case():
    assert METHODS.canonical("LoRA") == "lora"
    assert TASKS.get("Tweet_Sentiment").name == "tweet_sentiment"
    assert SUITES.get("DEFAULT").name == "default"


def test_names_equal_but_for_case_are_ambiguous_and_both_are_named():
    reg: Registry[int] = Registry("thing")
    reg.add("Alpha", 1)
    reg.add("alpha", 2)
    assert reg.get("alpha") == 2 and reg.get("Alpha") == 1
    with pytest.raises(UnknownName, match="Did you mean 'Alpha' or 'alpha'"):
        reg.get("ALPHA")


def test_model_names_resolve_to_the_spelling_in_cell_ids():
    assert canonical_model("MiniLM") == "minilm"
    assert canonical_model("config:llama-2-7b") == "config:Llama-2-7B"
    assert canonical_model("packaged:SmolLM2") == "packaged:smollm2"
    assert canonical_model("hub:Some/Model") == "hub:Some/Model"
    assert get_model("config:QWEN2.5-0.5B").name == "config:Qwen2.5-0.5B"
    assert config_for("llama-2-7b")["hidden_size"] == 4096


def test_a_bare_config_name_points_to_config_prefix():
    with pytest.raises(UnknownName, match="Did you mean 'config:Llama-2-7B'"):
        canonical_model("llama-2-7b")


def test_a_near_miss_names_the_nearest_configs():
    with pytest.raises(UnknownName, match="Did you mean 'Llama-2-7B'"):
        config_for("llama-7b")


def test_any_spelling_expands_to_the_same_cells():
    suite = SUITES.get("default")
    plain = expand(suite, methods=["lora"], tasks=["tweet_sentiment"], models=["minilm"])
    shouted = expand(suite, methods=["LORA"], tasks=["Tweet_Sentiment"], models=["MiniLM"])
    assert [c.cell_id for c in plain] == [c.cell_id for c in shouted]


def test_unknown_model_in_a_dry_run_is_a_usage_error(capsys):
    assert main(["run", "--models", "minilmm", "--dry-run"]) == 2
    assert "Did you mean 'minilm'" in capsys.readouterr().err


def test_params_accepts_lower_case_names(capsys):
    args = ["params", "--model", "llama-2-7b", "--method", "LoRA", "--task-kind", "generation"]
    assert main(args) == 0
    row = capsys.readouterr().out.splitlines()[2]
    assert row.startswith("| Llama-2-7B | lora ") and "4,194,304" in row
