"""Slow: the real packaged model and data (pinned wheels, downloaded once into the cache)."""

import pytest

from bench.core.registry import TASKS
from bench.core.spec import CellSpec, freeze_settings
from bench.execute.runner import run_cells

pytestmark = pytest.mark.slow


def test_tweet_sentiment_loads_from_its_wheel():
    raw = TASKS.get("tweet_sentiment").load()
    assert len(raw.texts) == 38158
    assert raw.label_names == ("negative", "neutral", "positive")
    assert [raw.labels.count(k) for k in range(3)] == [16186, 15018, 6954]


def test_one_real_packaged_cell_in_a_worker(store):
    spec = CellSpec(
        model="minilm",
        task="tweet_sentiment",
        method="lora",
        seed=0,
        settings=freeze_settings({"r": 8, "alpha": 16, "dropout": 0.1, "targets": ("q", "v")}),
        lr=3e-3,
        train_size=256,
        max_steps=8,
        batch_size=16,
        max_length=48,
    )
    summary = run_cells([spec], store, timeout_s=600)
    assert [s for _, s in summary.ran] == ["ok"], store.get(spec.cell_id)["error"]
    result = store.get(spec.cell_id)["result"]
    assert result["params"]["method_params"] == 6 * 2 * 8 * (384 + 384)  # LoRA r=8 on q, v
    assert result["params"]["head_params"] == 384 * 3 + 3
    assert result["data"]["train_examples"] == 256
    assert len(store.predictions(spec.cell_id)) == 1000
    assert 0.0 <= result["metrics"]["accuracy"] <= 1.0


def test_smollm2_converts_from_its_gguf_and_classifies():
    import torch

    from bench.models.sources import get_model

    info = get_model("packaged:smollm2")
    assert info.kind == "decoder"
    model, tokenizer = info.load("classification", 3)
    total = sum(p.numel() for p in model.parameters())
    assert total == 134_515_008 + 576 * 3  # SmolLM2-135M (tied embeddings) + score head
    batch = tokenizer(["I love this", "meh"], return_tensors="pt", padding=True)
    with torch.no_grad():
        logits = model(**batch).logits
    assert logits.shape == (2, 3) and torch.isfinite(logits).all()
