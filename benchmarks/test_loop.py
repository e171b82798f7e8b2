"""The training loop's cost: our loop with its meters and store against a bare PyTorch loop,
against Hugging Face Trainer on the same model, data, method, batch and precision, and with
torch.compile. CPU by default; FTBENCH_BENCH_DEVICE=cuda on a GPU machine.

    pytest benchmarks --benchmark-columns=median,iqr,rounds
"""

from __future__ import annotations

import math
import os
import random
import shutil
from typing import Any

import pytest
import torch
from transformers import AutoConfig, AutoModelForSequenceClassification

from bench.cell.train_loop import LoopConfig, plan_batches, train_loop
from bench.core.method_api import MethodContext
from bench.core.plugins import load_builtin_plugins
from bench.core.registry import METHODS
from bench.core.spec import CellSpec
from bench.data.splits import Encoded, collate, to_device
from bench.meters.energy import EnergyMeter
from bench.meters.memory import PeakMemory
from bench.models.sources import head_module_names
from bench.store.cell_store import Store
from benchmarks.conftest import OVERHEAD

DEVICE = torch.device(os.environ.get("FTBENCH_BENCH_DEVICE", "cpu"))
STEPS, BATCH, LENGTH = 12, 16, 128
ROUNDS = int(os.environ.get("FTBENCH_BENCH_ROUNDS", "3"))
PAIRS = int(os.environ.get("FTBENCH_BENCH_PAIRS", "8"))
MAX_OVERHEAD = 0.01  # the harness may cost at most 1% of a bare loop (paired median)
# a small BERT (4 layers, hidden 256): a step long enough on 2 cores that timer noise is small
CONFIG = {
    "model_type": "bert",
    "hidden_size": 256,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "intermediate_size": 1024,
    "vocab_size": 260,
    "max_position_embeddings": 256,
}


def _data() -> Encoded:
    rng = random.Random(0)
    rows = [
        [rng.randrange(4, 260) for _ in range(rng.randint(LENGTH // 2, LENGTH))] for _ in range(256)
    ]
    return Encoded(input_ids=rows, labels=[rng.randrange(2) for _ in rows])


DATA = _data()
CFG = LoopConfig(lr=1e-3, batch_size=BATCH, max_steps=STEPS, timer_warmup_steps=0)
TOKENS = sum(len(DATA.input_ids[i]) for b in plan_batches(len(DATA), CFG) for i in b)


def _model() -> torch.nn.Module:
    """The same LoRA model (seeded) for every variant."""
    load_builtin_plugins()
    config = dict(CONFIG)
    cfg = AutoConfig.for_model(config.pop("model_type"), num_labels=2, pad_token_id=0, **config)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(cfg)
    lora = METHODS.get("lora")
    ctx = MethodContext(
        model_kind="encoder",
        task_kind="classification",
        head_names=head_module_names(model),
        seed=0,
    )
    model = lora.apply(model, lora.resolve_settings({}), ctx)
    return model.to(DEVICE)


def _bare_loop(model: torch.nn.Module) -> None:
    """The loop any PyTorch user writes: the same optimizer, schedule, clipping and batches."""
    from transformers import get_scheduler

    batches = plan_batches(len(DATA), CFG)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=CFG.lr, weight_decay=CFG.weight_decay)
    scheduler = get_scheduler("linear", optimizer, math.ceil(CFG.warmup_ratio * STEPS), STEPS)
    model.train()
    for indices in batches:
        loss = model(**to_device(collate(DATA, indices, 0), DEVICE)).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, CFG.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def _harness_loop(model: torch.nn.Module, store_path: str) -> None:
    """Our cell's loop with everything around it: memory and energy meters, the timer's syncs,
    the record written to a store."""
    memory = PeakMemory(DEVICE).start("train")
    energy = EnergyMeter(DEVICE).start()
    loop = train_loop(model, DATA, DEVICE, 0, CFG)
    record = {
        "status": "ok",
        "speed": loop.timer.summary(),
        "energy": energy.stop(len(loop.losses), TOKENS),
        "memory": memory.stop(),
        "predictions": [],
    }
    spec = CellSpec(model="bench", task="bench", method="lora", seed=0)
    Store(store_path).save(spec, record)


def _trainer_loop(model: torch.nn.Module, out_dir: str) -> None:
    """Hugging Face Trainer on the same model, batches of the same size, same schedule."""
    from transformers import Trainer, TrainingArguments

    rows = [{"input_ids": DATA.input_ids[i], "labels": DATA.labels[i]} for i in range(len(DATA))]

    def collator(features: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        encoded = Encoded([f["input_ids"] for f in features], [f["labels"] for f in features])
        return collate(encoded, list(range(len(features))), 0)

    args = TrainingArguments(
        output_dir=out_dir,
        max_steps=STEPS,
        per_device_train_batch_size=BATCH,
        learning_rate=CFG.lr,
        weight_decay=CFG.weight_decay,
        warmup_steps=math.ceil(CFG.warmup_ratio * STEPS),
        max_grad_norm=CFG.grad_clip,
        logging_strategy="no",
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        use_cpu=DEVICE.type == "cpu",
        dataloader_num_workers=0,
        seed=0,
    )
    Trainer(model=model, args=args, train_dataset=rows, data_collator=collator).train()
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def _run(benchmark: Any, record_median: Any, name: str, target: Any, *extra: Any) -> None:
    benchmark.group = "loop"
    benchmark.pedantic(
        target, setup=lambda: ((_model(), *extra), {}), rounds=ROUNDS, warmup_rounds=1
    )
    record_median(name, TOKENS)


def _paired_ratio(first: Any, second: Any, pairs: int = PAIRS) -> list[float]:
    """second / first, timed back to back `pairs` times (each on a fresh model), which cancels
    the machine's drift that separate benchmarks of 3 rounds each do not."""
    import time

    def timed(target: Any) -> float:
        model = _model()
        start = time.perf_counter()
        target(model)
        return time.perf_counter() - start

    timed(first)  # warm-up
    ratios = []
    for _ in range(pairs):
        base = timed(first)
        ratios.append(timed(second) / base)
    return ratios


def test_harness_overhead_paired(benchmark, tmp_path):
    """The harness (meters and store) costs under 1% against a bare loop: the median of paired
    ratios, harness / bare."""
    import statistics

    stores = iter(str(tmp_path / f"store{i}.sqlite") for i in range(PAIRS + 1))
    ratios: list[float] = []
    benchmark.group = "overhead"
    benchmark.pedantic(
        lambda: ratios.extend(_paired_ratio(_bare_loop, lambda m: _harness_loop(m, next(stores)))),
        rounds=1,
        iterations=1,
    )
    OVERHEAD["paired"] = statistics.median(ratios)
    benchmark.extra_info.update(harness_over_bare_median=OVERHEAD["paired"], ratios=ratios)
    assert OVERHEAD["paired"] < 1 + MAX_OVERHEAD, f"harness overhead {OVERHEAD['paired'] - 1:+.2%}"


def test_ours_at_least_as_fast_as_trainer_paired(benchmark, tmp_path):
    """Our loop trains at least at Trainer's tokens/s: the median of paired ratios, Trainer's
    time / ours, is at least 1."""
    import statistics

    def ours(model: torch.nn.Module) -> None:
        train_loop(model, DATA, DEVICE, 0, CFG)

    ratios: list[float] = []
    benchmark.group = "overhead"
    benchmark.pedantic(
        lambda: ratios.extend(
            _paired_ratio(ours, lambda m: _trainer_loop(m, str(tmp_path / "trainer")))
        ),
        rounds=1,
        iterations=1,
    )
    OVERHEAD["trainer"] = statistics.median(ratios)
    benchmark.extra_info.update(trainer_over_ours_median=OVERHEAD["trainer"], ratios=ratios)
    assert OVERHEAD["trainer"] >= 1.0, f"Trainer took {OVERHEAD['trainer']:.3f}x our loop's time"


def test_bare_loop(benchmark, record_median):
    _run(benchmark, record_median, "bare", _bare_loop)


def test_harness_loop(benchmark, record_median, tmp_path):
    _run(benchmark, record_median, "harness", _harness_loop, str(tmp_path / "store.sqlite"))


def test_our_loop(benchmark, record_median):
    _run(benchmark, record_median, "ours", lambda model: train_loop(model, DATA, DEVICE, 0, CFG))


def test_trainer_loop(benchmark, record_median, tmp_path):
    _run(benchmark, record_median, "trainer", _trainer_loop, str(tmp_path / "trainer"))


@pytest.mark.skipif(
    shutil.which("g++") is None and DEVICE.type == "cpu", reason="inductor needs a C++ compiler"
)
def test_our_loop_compiled(benchmark, record_median):
    def compiled(model: torch.nn.Module) -> None:
        train_loop(torch.compile(model), DATA, DEVICE, 0, CFG)

    _run(benchmark, record_median, "ours-compiled", compiled)
