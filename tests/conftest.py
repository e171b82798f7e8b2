"""Tiny models built from configs in the tests, registered once per session."""

from __future__ import annotations

import pytest

from bench.core.plugins import load_builtin_plugins
from bench.core.registry import MODELS
from bench.models.sources import register_config_model

TINY_BERT = {
    "model_type": "bert",
    "vocab_size": 300,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
}
TINY_LLAMA = {
    "model_type": "llama",
    "vocab_size": 300,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "pad_token_id": 0,
}
TINY_GPT2 = {
    "model_type": "gpt2",
    "vocab_size": 300,
    "n_embd": 32,
    "n_layer": 2,
    "n_head": 4,
    "n_positions": 64,
    "bos_token_id": 0,
    "eos_token_id": 0,
    "pad_token_id": 0,
}

load_builtin_plugins()
for _name, _config in (
    ("tiny-bert", TINY_BERT),
    ("tiny-llama", TINY_LLAMA),
    ("tiny-gpt2", TINY_GPT2),
):
    if _name not in MODELS:
        register_config_model(_name, _config, "test model")


@pytest.fixture
def store(tmp_path):
    from bench.store.cell_store import Store

    with Store(tmp_path / "store.sqlite") as s:
        yield s


@pytest.fixture(scope="session")
def smoke_lora_store(tmp_path_factory):
    """A store holding the smoke suite's LoRA cells, seeds 0-5, trained once per session: the
    real A/A pair reads them all and the gate's LoRA baseline is seeds 0-2 (tests that write
    copy the file first)."""
    from bench.execute.runner import run_cells
    from bench.plan.suites import SUITES, expand
    from bench.store.cell_store import Store

    path = tmp_path_factory.mktemp("smoke") / "smoke.sqlite"
    with Store(path) as store:
        run_cells(expand(SUITES.get("smoke"), methods=["lora"], seeds=6), store, in_process=True)
    return path
