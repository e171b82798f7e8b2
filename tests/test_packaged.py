"""Slow: the real packaged model and data (pinned wheels, downloaded once into the cache)."""

import dataclasses
from pathlib import Path

import pytest

from bench.core.registry import TASKS
from bench.core.spec import CellSpec, freeze_settings
from bench.execute.runner import run_cells
from bench.store.cell_store import Store

pytestmark = pytest.mark.slow


def test_tweet_sentiment_loads_from_its_wheel():
    raw = TASKS.get("tweet_sentiment").load()
    assert len(raw.texts) == 38158
    assert raw.label_names == ("negative", "neutral", "positive")
    assert [raw.labels.count(k) for k in range(3)] == [16186, 15018, 6954]


# Cells of the committed snapshot that a test trains again: the embedded default's LoRA and
# the same with 8 labelled tweets per class and self-training, both at a tiny budget (8 steps
# of 16 examples): a regime whose cells once stopped following their ids.
SNAPSHOT = Path(__file__).resolve().parent.parent / "reports" / "ftbench.sqlite"
LORA = CellSpec(
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
SELF_TRAINED = dataclasses.replace(LORA, shots=8, self_training=0.9)


def test_committed_cells_train_again_to_their_stored_records(store):
    """The snapshot's numbers reproduce: two committed cells trained again give the stored
    metrics and per-example predictions, exactly on the kind of CPU that made them (float
    kernels differ between CPU families, so elsewhere within 3 of 1,000 examples)."""
    with Store(SNAPSHOT, read_only=True) as snapshot:
        committed = {s.cell_id: snapshot.get(s.cell_id) for s in (LORA, SELF_TRAINED)}
        stored = {i: snapshot.predictions(i) for i in committed}
    # in this process, as the gate's tests do: a worker's start-up is tested elsewhere
    summary = run_cells([LORA, SELF_TRAINED], store, timeout_s=600, in_process=True)
    assert [s for _, s in summary.ran] == ["ok", "ok"], [store.get(i)["error"] for i in committed]
    result = store.get(LORA.cell_id)["result"]
    assert result["params"]["method_params"] == 6 * 2 * 8 * (384 + 384)  # LoRA r=8 on q, v
    assert result["params"]["head_params"] == 384 * 3 + 3
    assert result["data"]["train_examples"] == 256
    for cell_id, old in committed.items():
        new = store.get(cell_id)
        same_cpu = new["env"]["hardware"]["cpu"] == old["env"]["hardware"]["cpu"]
        preds = [r["pred"] for r in store.predictions(cell_id)]
        agree = sum(p == r["pred"] for p, r in zip(preds, stored[cell_id], strict=True))
        metrics, before = new["result"]["metrics"], old["result"]["metrics"]
        assert len(preds) == len(stored[cell_id]) == 1000
        if same_cpu:
            assert agree == len(preds), cell_id
            assert metrics == pytest.approx(before, rel=1e-6), cell_id
        else:
            assert agree >= len(preds) - 3, cell_id
            assert metrics["accuracy"] == pytest.approx(before["accuracy"], abs=0.003), cell_id


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
