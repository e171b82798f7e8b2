"""The search on Ray Tune with ASHA early termination (`--search-lr ... --executor ray`): per
configuration, `budget` trials with the learning rate drawn log-uniformly from the given range
(and the key setting from its values), each a cell that reports its validation metric at every
evaluation so that ASHA can end the poor ones early. Every trial is stored: `ok` with its full
record, or `pruned` with the metric at which ASHA stopped it. Draws are seeded, so the same
command draws the same trials and a trial already stored `ok` is read back, not trained."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
from typing import Any

from bench.core.registry import METHODS, TASKS
from bench.core.spec import CellSpec, freeze_settings
from bench.core.status import Status
from bench.evaluate.metrics import LOWER_IS_BETTER
from bench.search.grid import config_key, searched_key
from bench.store.cell_store import Store

RUNGS = 4  # evaluations per trial when --eval-every is not given


def trial_spec(base: CellSpec, lr: float, key: str | None, value: Any) -> CellSpec:
    """The trial cell of one draw: the rate to three significant digits (readable, and the same
    draw gives the same cell id), the key setting, the trial flag."""
    spec = dataclasses.replace(base, lr=float(f"{lr:.3g}"), trial=True, seed=0)
    if key is not None:
        spec = dataclasses.replace(
            spec, settings=freeze_settings({**spec.settings_dict(), key: value})
        )
    return spec


def _evaluations(spec: CellSpec) -> int:
    """How many validation scores the trial reports: every eval_every steps, and the last."""
    from bench.cell.train_loop import LoopConfig, plan_steps
    from bench.data.splits import make_split

    task = TASKS.get(spec.task)
    split = make_split(
        task.load(), task.val_size, task.test_size, spec.train_size, shots=spec.shots
    )
    steps = len(plan_steps(len(split.train), LoopConfig.from_spec(spec)))
    every = spec.eval_every or steps
    return max(1, math.ceil(steps / every))


def _run_trial(
    config: dict[str, Any],
    base: str,
    key: str | None,
    plugins: list[str],
    stored: dict[str, float],
) -> None:
    """A Ray Tune function trainable: one trial cell, reporting each validation score."""
    from ray import tune

    from bench.cell.run import run_cell
    from bench.core.plugins import load_builtin_plugins, load_plugin_file

    load_builtin_plugins()
    for path in plugins:
        load_plugin_file(path)
    spec = trial_spec(CellSpec.from_json(base), config["lr"], key, config.get("value"))
    metric = f"val_{TASKS.get(spec.task).metric}"
    if spec.cell_id in stored:  # stored ok by an earlier run of the same search
        tune.report({"score": stored[spec.cell_id], "evaluations": 10**6, "cell_id": spec.cell_id})
        return
    seen = {"n": 0}

    def report(metrics: dict[str, float]) -> None:
        seen["n"] += 1
        tune.report({"score": metrics[metric], "evaluations": seen["n"], "cell_id": spec.cell_id})

    record = run_cell(spec, on_evaluate=report)
    final = record["metrics"][metric.removeprefix("val_")]
    tune.report(
        {
            "score": final,
            "evaluations": seen["n"] + 1,
            "cell_id": spec.cell_id,
            "record": json.dumps(record, default=str),
        }
    )


def asha_search(
    cells: list[CellSpec],
    store: Store,
    *,
    lrs: list[float],
    relative: bool,
    with_key: bool,
    budget: int,
    plugins: list[str],
    address: str | None = None,
    seed: int = 0,
    init_kwargs: dict[str, Any] | None = None,
    command: str | None = None,
) -> list[CellSpec]:
    """Run the ASHA search of every configuration among `cells`; store each trial; return them."""
    try:
        import ray
        from ray import tune
        from ray.tune.schedulers import ASHAScheduler
    except ImportError:
        raise ValueError('--executor ray needs Ray Tune: pip install -e ".[cluster]"') from None
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False, **(init_kwargs or {}))
    configs: dict[str, CellSpec] = {}
    for spec in cells:
        configs.setdefault(config_key(spec, with_key), dataclasses.replace(spec, seed=0))
    stored = {  # the score of every trial stored ok: read back, not trained again
        r["id"]: r["result"]["metrics"][r["result"]["primary_metric"]]
        for r in store.cells()
        if r["status"] == Status.OK and r["spec"].trial
    }
    trials: list[CellSpec] = []
    for base in configs.values():
        key = searched_key(base, with_key)
        low, high = (base.lr * lrs[0], base.lr * lrs[-1]) if relative else (lrs[0], lrs[-1])
        space: dict[str, Any] = {"lr": tune.loguniform(low, high)}
        if key is not None:
            space["value"] = tune.choice(list(METHODS.get(base.method).search[1]))
        if base.eval_every is None:  # a few rungs for ASHA to stop trials at
            every = max(1, math.ceil(_evaluations(dataclasses.replace(base, eval_every=1)) / RUNGS))
            base = dataclasses.replace(base, eval_every=every)
        rungs = _evaluations(base)
        mode = "min" if TASKS.get(base.task).metric in LOWER_IS_BETTER else "max"
        tuner = tune.Tuner(
            tune.with_parameters(
                _run_trial,
                base=base.to_json(),
                key=key,
                plugins=[os.path.abspath(p) for p in plugins],
                stored=stored,
            ),
            param_space=space,
            tune_config=tune.TuneConfig(
                metric="score",
                mode=mode,
                scheduler=ASHAScheduler(
                    time_attr="evaluations", max_t=rungs + 1, grace_period=1, reduction_factor=2
                ),
                num_samples=budget,
                search_alg=tune.search.BasicVariantGenerator(random_state=seed),
            ),
            run_config=tune.RunConfig(
                storage_path=tempfile.mkdtemp(prefix="ftbench-tune-"),
                name=base.cell_id,
                verbose=0,
            ),
        )
        for result in tuner.fit():
            spec = trial_spec(base, result.config["lr"], key, result.config.get("value"))
            trials.append(spec)
            if spec.cell_id in stored:
                continue
            record = _record(result)
            if command:
                record.setdefault("env", {})["command"] = command
            store.save(spec, record)
    return trials


def _record(result: Any) -> dict[str, Any]:
    """The stored record of one finished Tune trial: its own, pruned, or the error."""
    metrics = result.metrics or {}
    if result.error is not None:
        first = (str(result.error).strip().splitlines() or [""])[0]
        return {"status": Status.ERROR, "error": f"Ray Tune trial failed: {first}"}
    if "record" in metrics:
        return json.loads(metrics["record"])
    return {
        "status": Status.PRUNED,
        "error": (
            f"ended by ASHA after {metrics.get('evaluations')} evaluation(s), validation "
            f"metric {metrics.get('score')}"
        ),
        "wall_s": metrics.get("time_total_s"),
        "pruned_at": {"evaluations": metrics.get("evaluations"), "score": metrics.get("score")},
    }
