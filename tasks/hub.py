"""Standard benchmarks from the Hugging Face hub (need internet, or a local mirror of the files).

`FTBENCH_HUB_MIRROR=/dir` reads `/dir/<dataset path>/<config>/<split>.jsonl` instead of the hub,
with the hub's column names: how the tests check these loaders offline, and how a machine
without internet can run them from copied files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.core.registry import register_task
from bench.data.splits import RawData


@dataclass(frozen=True)
class HubSource:
    """Where a task's rows are on the hub and which columns hold what."""

    path: str
    config: str | None
    splits: tuple[str, ...]  # pooled, then split by the harness like every other task
    text: str
    label: str | None = None
    text_b: str | None = None
    response: str | None = None


def hub_rows(source: HubSource) -> list[dict[str, Any]]:
    """The labelled rows of every split in `source.splits` (GLUE test rows, label -1, dropped)."""
    import datasets

    mirror = os.environ.get("FTBENCH_HUB_MIRROR")
    rows: list[dict[str, Any]] = []
    for split in source.splits:
        folder = Path(mirror or "DIR") / source.path / (source.config or "default")
        if mirror:
            if not (folder / f"{split}.jsonl").is_file():
                raise FileNotFoundError(
                    f"FTBENCH_HUB_MIRROR={mirror} has no {folder / f'{split}.jsonl'} "
                    f"(the {split} split of {source.path}, config {source.config})"
                )
            data = datasets.load_dataset(
                "json", data_files={split: str(folder / f"{split}.jsonl")}, split=split
            )
        else:
            try:
                data = datasets.load_dataset(source.path, source.config, split=split)
            except Exception as exc:  # noqa: BLE001 - offline shows up as many exception types
                first = (str(exc).strip().splitlines() or [""])[0]
                raise RuntimeError(
                    f"the hub data set {source.path} (config {source.config}, split {split}) "
                    f"could not be reached ({type(exc).__name__}: {first}). Without internet, "
                    f"copy its splits as JSON lines to {folder}/<split>.jsonl and set "
                    f"FTBENCH_HUB_MIRROR=DIR"
                ) from exc
        rows += [r for r in data if source.label is None or r[source.label] != -1]
    return rows


def hub_task(
    name: str,
    source: HubSource,
    *,
    kind: str = "classification",
    labels: tuple[str, ...] = (),
    metric: str = "accuracy",
    metrics: tuple[str, ...] = (),
    size: int | None = None,
    val_size: int = 500,
    test_size: int = 1000,
    prompt: Any = None,
    description: str = "",
    max_new_tokens: int = 32,
) -> None:
    """Register a hub task whose loader maps `source`'s columns onto RawData."""

    def load() -> RawData:
        rows = hub_rows(source)
        if kind == "generation":
            prompts = [prompt(r) if prompt else r[source.text] for r in rows]
            strata = [int(bool(r.get("input"))) if len(labels) > 1 else 0 for r in rows]
            return RawData(
                texts=prompts,
                labels=strata,
                label_names=labels,
                responses=[r[source.response] for r in rows],
            )
        return RawData(
            texts=[r[source.text] for r in rows],
            labels=[
                float(r[source.label]) if kind == "regression" else r[source.label] for r in rows
            ],
            label_names=labels,
            texts_b=[r[source.text_b] for r in rows] if source.text_b else None,
        )

    load.__doc__ = description
    if kind == "generation" and not labels:
        labels = ("all",)
    if kind == "classification" and not metrics:
        metrics = (metric, "macro_f1" if metric != "macro_f1" else "accuracy")
    register_task(
        name,
        kind=kind,
        labels=labels,
        metric=metric,
        metrics=metrics,
        offline=False,
        source=f"hub: {source.path}"
        + (f" ({source.config})" if source.config else "")
        + f", splits {' + '.join(source.splits)}",
        val_size=val_size,
        test_size=test_size,
        size=size,
        max_new_tokens=max_new_tokens,
    )(load)


def _glue(config: str, text: str, text_b: str | None = None) -> HubSource:
    return HubSource("nyu-mll/glue", config, ("train", "validation"), text, "label", text_b)


def _alpaca_prompt(row: dict[str, Any]) -> str:
    return f"{row['instruction']}\n\n{row['input']}" if row.get("input") else row["instruction"]


BINARY_NLI = ("entailment", "not_entailment")
hub_task(
    "glue_sst2",
    _glue("sst2", "sentence"),
    labels=("negative", "positive"),
    size=68221,
    description="GLUE SST-2: movie-review sentences, negative / positive.",
)
hub_task(
    "glue_mrpc",
    _glue("mrpc", "sentence1", "sentence2"),
    labels=("not_equivalent", "equivalent"),
    metric="macro_f1",
    metrics=("macro_f1", "accuracy"),
    size=4076,
    val_size=300,
    test_size=600,
    description="GLUE MRPC: are two news sentences paraphrases?",
)
hub_task(
    "glue_rte",
    _glue("rte", "sentence1", "sentence2"),
    labels=BINARY_NLI,
    size=2767,
    val_size=250,
    test_size=500,
    description="GLUE RTE: does the first text entail the second?",
)
hub_task(
    "glue_stsb",
    _glue("stsb", "sentence1", "sentence2"),
    kind="regression",
    metric="pearson",
    metrics=("pearson", "spearman", "mse"),
    size=7249,
    description="GLUE STS-B: similarity of two sentences, a score from 0 to 5.",
)
hub_task(
    "glue_cola",
    _glue("cola", "sentence"),
    labels=("unacceptable", "acceptable"),
    metric="mcc",
    metrics=("mcc", "accuracy"),
    size=9594,
    description="GLUE CoLA: is the sentence grammatically acceptable?",
)
hub_task(
    "glue_qnli",
    _glue("qnli", "question", "sentence"),
    labels=BINARY_NLI,
    size=110206,
    description="GLUE QNLI: does the sentence answer the question?",
)
hub_task(
    "imdb",
    HubSource("stanfordnlp/imdb", None, ("train", "test"), "text", "label"),
    labels=("negative", "positive"),
    size=50000,
    description="IMDB movie reviews, negative / positive.",
)
hub_task(
    "ag_news",
    HubSource("fancyzhx/ag_news", None, ("train", "test"), "text", "label"),
    labels=("World", "Sports", "Business", "Sci/Tech"),
    size=127600,
    description="AG News headlines and leads in 4 topics.",
)
hub_task(
    "medical_questions_pairs",
    HubSource(
        "curaihealth/medical_questions_pairs", None, ("train",), "question_1", "label", "question_2"
    ),
    labels=("different", "similar"),
    size=3048,
    val_size=300,
    test_size=600,
    description="Medical questions pairs: do two patient questions ask the same thing?",
)
hub_task(
    "alpaca",
    HubSource("tatsu-lab/alpaca", None, ("train",), "instruction", response="output"),
    kind="generation",
    labels=("no_input", "with_input"),
    metric="rouge_l",
    metrics=("rouge_l", "bleu", "perplexity"),
    size=52002,
    prompt=_alpaca_prompt,
    description="Alpaca instructions (with their optional input) and responses.",
)
hub_task(
    "gsm8k",
    HubSource("openai/gsm8k", "main", ("train", "test"), "question", response="answer"),
    kind="generation",
    metric="exact_match",
    metrics=("exact_match", "perplexity"),
    size=8792,
    max_new_tokens=256,
    description="GSM8K grade-school maths; exact match of the final number.",
)
