"""Hub tasks read through `datasets` from a tiny local mirror with the hub's column names."""

import json

import pytest

from bench.cell.run import run_cell
from bench.core.registry import TASKS, register_task
from bench.core.spec import CellSpec
from tasks.hub import HubSource, hub_rows

# dataset path, config, splits, one row (hub column names and value types)
MIRROR = {
    "glue_sst2": ("nyu-mll/glue", "sst2", ("train", "validation"), {"sentence": "s", "label": 1}),
    "glue_mrpc": (
        "nyu-mll/glue",
        "mrpc",
        ("train", "validation"),
        {"sentence1": "a", "sentence2": "b", "label": 0},
    ),
    "glue_rte": (
        "nyu-mll/glue",
        "rte",
        ("train", "validation"),
        {"sentence1": "a", "sentence2": "b", "label": 1},
    ),
    "glue_stsb": (
        "nyu-mll/glue",
        "stsb",
        ("train", "validation"),
        {"sentence1": "a", "sentence2": "b", "label": 3.2},
    ),
    "glue_cola": ("nyu-mll/glue", "cola", ("train", "validation"), {"sentence": "s", "label": 0}),
    "glue_qnli": (
        "nyu-mll/glue",
        "qnli",
        ("train", "validation"),
        {"question": "q", "sentence": "s", "label": 1},
    ),
    "imdb": ("stanfordnlp/imdb", None, ("train", "test"), {"text": "t", "label": 1}),
    "ag_news": ("fancyzhx/ag_news", None, ("train", "test"), {"text": "t", "label": 3}),
    "medical_questions_pairs": (
        "curaihealth/medical_questions_pairs",
        None,
        ("train",),
        {"question_1": "a", "question_2": "b", "label": 1},
    ),
    "alpaca": (
        "tatsu-lab/alpaca",
        None,
        ("train",),
        {"instruction": "do", "input": "x", "output": "done", "text": "unused"},
    ),
    "gsm8k": ("openai/gsm8k", "main", ("train", "test"), {"question": "q", "answer": "#### 4"}),
}


def _write(root, path, config, split, rows):
    folder = root / path / (config or "default")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _variant(row, i):
    """Row i: every text made unique, class labels cycled, scores spread."""
    out = {}
    for key, value in row.items():
        if key == "label":
            out[key] = round((i % 50) / 10, 1) if isinstance(value, float) else i % 2
        elif isinstance(value, str):
            out[key] = f"{value} {i}"
        else:
            out[key] = value
    return out


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    for path, config, splits, row in MIRROR.values():
        for k, split in enumerate(splits):
            rows = [_variant(row, 100 * k + i) for i in range(40)]
            if path == "nyu-mll/glue" and split == "validation":
                rows.append({**rows[0], "label": -1})  # GLUE test-style row: no label
            _write(tmp_path, path, config, split, rows)
    monkeypatch.setenv("FTBENCH_HUB_MIRROR", str(tmp_path))
    return tmp_path


def test_every_hub_task_is_in_the_mirror_table():
    hub = {n for n, t in TASKS.items() if not t.offline}
    assert hub == set(MIRROR)


@pytest.mark.parametrize("name", sorted(MIRROR))
def test_hub_task_maps_columns(mirror, name):
    task = TASKS.get(name)
    raw = task.load()
    splits = MIRROR[name][2]
    assert len(raw.texts) == 40 * len(splits)  # unlabeled (-1) rows dropped
    assert not task.offline and task.size and task.source.startswith("hub: ")
    if task.kind == "generation":
        assert raw.responses and raw.texts_b is None
        if name == "alpaca":
            assert raw.texts[0] == "do 0\n\nx 0" and raw.labels[0] == 1
    elif task.kind == "regression":
        assert raw.label_names == () and all(isinstance(v, float) for v in raw.labels)
        assert raw.texts_b[0] == "b 0"
    else:
        assert set(raw.labels) == {0, 1} and len(task.labels) >= 2


def test_regression_pair_cell_from_the_mirror(mirror):
    source = HubSource(
        "nyu-mll/glue", "stsb", ("train", "validation"), "sentence1", "label", "sentence2"
    )
    assert len(hub_rows(source)) == 80
    name = "test_stsb_small"
    if name not in TASKS:

        @register_task(
            name,
            kind="regression",
            labels=(),
            metric="pearson",
            metrics=("pearson", "spearman", "mse"),
            val_size=10,
            test_size=20,
        )
        def load():
            return TASKS.get("glue_stsb").load()

    spec = CellSpec(
        model="tiny-bert",
        task=name,
        method="lora",
        seed=0,
        lr=1e-3,
        task_version=TASKS.get(name).version,  # a task registered here: versioned by its code
        train_size=None,
        max_length=16,
        batch_size=8,
        max_steps=3,
    )
    from bench.core.registry import METHODS
    from bench.core.spec import freeze_settings

    spec = CellSpec(
        **{**spec.__dict__, "settings": freeze_settings(METHODS.get("lora").resolve_settings({}))}
    )
    record = run_cell(spec)
    assert {"pearson", "spearman", "mse", "test_loss"} <= set(record["metrics"])
    assert len(record["predictions"]) == 20
    assert all(isinstance(r["pred"], float) for r in record["predictions"])
    assert record["data"]["majority_baseline"] is None


def test_an_unreachable_hub_names_the_data_set_and_the_mirror(monkeypatch, tmp_path):
    import datasets

    def offline(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.delenv("FTBENCH_HUB_MIRROR", raising=False)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    with pytest.raises(RuntimeError) as caught:
        TASKS.get("glue_sst2").load()
    text = str(caught.value)
    assert "nyu-mll/glue (config sst2, split train) could not be reached" in text
    assert "FTBENCH_HUB_MIRROR=DIR" in text and "DIR/nyu-mll/glue/sst2/<split>.jsonl" in text
    monkeypatch.setenv("FTBENCH_HUB_MIRROR", str(tmp_path))  # a mirror without the file
    with pytest.raises(FileNotFoundError, match="has no .*nyu-mll/glue/sst2/train.jsonl"):
        TASKS.get("glue_sst2").load()
