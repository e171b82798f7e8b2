"""A GPU plan: every cell's predicted training peak and whether it fits the profile's card."""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bench.core.errors import Unsupported
from bench.core.registry import TASKS
from bench.core.spec import CellSpec
from bench.core.status import Status, Verdict
from bench.core.vocab import StepShape
from bench.hardware.gpus import GpuProfile
from bench.plan.estimate import Estimate, estimate


@dataclass
class PlannedCell:
    """A cell with its estimate (None when it could not be made) and its verdict."""

    spec: CellSpec
    estimate: Estimate | None
    verdict: str
    note: str = ""

    def record(self) -> dict[str, Any]:
        """What a cell stores of its plan: the estimate and the verdict against the profile."""
        return {
            "verdict": self.verdict,
            "note": self.note,
            **(self.estimate.to_dict() if self.estimate is not None else {}),
        }


def task_shape(task_name: str, objective: str | None = None) -> tuple[str, int]:
    """What an estimate needs of a task: the head it trains (an LM head for generation and
    DPO, a classification head otherwise) and its number of outputs (one for a regression and
    for a reward model)."""
    task = TASKS.get(task_name)
    if task.kind == "preference":
        return ("generation", 2) if objective == "dpo" else ("classification", 1)
    kind = task.kind if task.kind in ("generation", "token") else "classification"
    return kind, 1 if task.kind == "regression" else len(task.labels)


def preference_step(spec: CellSpec) -> str | None:
    """What a preference cell's step runs (bench.core.vocab.PREFERENCE_STEPS); None else."""
    from bench.regimes.preference import reference_strategy

    if TASKS.get(spec.task).kind != "preference":
        return None
    if spec.preference_objective != "dpo":
        return "reward"
    return f"dpo-{reference_strategy(spec)}"


Settings = tuple[tuple[str, Any], ...]


def _step_of(spec: CellSpec) -> tuple[str, str, Settings, StepShape]:
    """What a cell's estimate takes: model, method, settings and the step's shape."""
    kind, labels = task_shape(spec.task, spec.preference_objective)
    shape = StepShape(
        spec.precision,
        spec.batch_size,
        spec.max_length,
        spec.optimizer,
        spec.grad_checkpointing,
        kind,
        labels,
        optimizer_in_backward=spec.optimizer_in_backward,
        loss_chunks=spec.loss_chunks,
        preference=preference_step(spec),
    )
    return spec.model.removeprefix("config:"), spec.method, spec.settings, shape


def step_key(model: str, method: str, settings: Settings, shape: StepShape) -> tuple:
    """The fields an estimate depends on (not a seed, a learning rate or a task's data)."""
    return (
        model,
        method,
        settings,
        shape.precision,
        shape.optimizer,
        shape.grad_checkpointing,
        shape.batch_size,
        shape.max_length,
        shape.task_kind,
        shape.num_labels,
    ) + _later_fields(shape)


def _later_fields(shape: StepShape) -> tuple:
    """Step options added after estimates were first kept: in the key only when set, so that
    the estimates kept before them keep their names."""
    if not shape.optimizer_in_backward and not shape.loss_chunks and not shape.preference:
        return ()
    later = (
        ("optimizer_in_backward", shape.optimizer_in_backward),
        ("loss_chunks", shape.loss_chunks),
    )
    return later + ((("preference", shape.preference),) if shape.preference else ())


def estimate_key(spec: CellSpec) -> tuple:
    """A cell's step_key."""
    return step_key(*_step_of(spec))


def estimate_cell(spec: CellSpec) -> Estimate:
    """The estimate of one cell's training step (every sequence max_length tokens long)."""
    model, method, settings, shape = _step_of(spec)
    return estimate(model, method, dict(settings), shape)


def _stored(
    model: str, method: str, settings: Settings, shape: StepShape
) -> tuple[str, Estimate | None]:
    """The cache name of an estimate and the stored estimate, if any."""
    from bench.core.registry import METHODS
    from bench.plan import estimate_cache

    key = step_key(model, method, settings, shape)
    name = estimate_cache.cache_key(key, METHODS.get(method).apply)
    stored = estimate_cache.load(name)
    return name, Estimate(**stored) if stored is not None else None


def stored_estimate(
    model: str, method: str, settings: Settings, shape: StepShape
) -> Estimate | None:
    """The estimate kept on disk for these inputs, code and libraries; None when not made yet."""
    return _stored(model, method, settings, shape)[1]


def cached_estimate(model: str, method: str, settings: Settings, shape: StepShape) -> Estimate:
    """estimate(), kept on disk (bench.plan.estimate_cache): made once per inputs, code and
    library versions."""
    from bench.plan import estimate_cache

    name, stored = _stored(model, method, settings, shape)
    if stored is not None:
        return stored
    est = estimate(model, method, dict(settings), shape)
    estimate_cache.save(name, est.to_dict())
    return est


def verdict_for(est: Estimate, profile: GpuProfile) -> str:
    """fits when what NVML would show stays within the card's memory (paged optimizer states
    apart: unified memory goes to the host when the card is full)."""
    resident = est.peak_device_bytes - est.managed_bytes
    return Verdict.FITS if resident <= profile.memory_bytes else Verdict.WONT_FIT


def _estimate_or_reason(spec_json: str) -> tuple[Estimate | None, str | None, str]:
    """(estimate, None, "") or (None, verdict, why): what a worker sends back. Estimates are
    kept on disk (bench.plan.estimate_cache), so a plan made twice costs its imports only."""
    spec = CellSpec.from_json(spec_json)
    try:
        return cached_estimate(*_step_of(spec)), None, ""
    except Unsupported as exc:
        return None, Verdict.UNSUPPORTED, str(exc)
    except (ValueError, RuntimeError, NotImplementedError) as exc:
        return None, Verdict.UNKNOWN, f"no estimate: {type(exc).__name__}: {exc}"


def _worker_init(plugins: Sequence[str]) -> None:
    from bench.core.quiet import quiet_libraries

    quiet_libraries()
    from bench.core.plugins import load_builtin_plugins, load_plugin_file

    load_builtin_plugins()
    for path in plugins:
        load_plugin_file(path)


PARALLEL_FROM = 12  # distinct estimates from which worker processes pay for their start-up


def plan(
    cells: Sequence[CellSpec],
    profile: GpuProfile,
    on_progress: Callable[[int, int], None] | None = None,
    plugins: Sequence[str] = (),
    workers: int | None = None,
) -> list[PlannedCell]:
    """Estimate every cell once per distinct estimate key (in `workers` processes when there
    are many: one per core by default); verdicts against `profile`."""
    keys = [estimate_key(c) for c in cells]
    first = {}
    for key, spec in zip(keys, cells, strict=True):
        first.setdefault(key, spec)
    done: dict[tuple, tuple[Estimate | None, str | None, str]] = {}
    for key, spec in first.items():
        stored = _stored(*_step_of(spec))[1]
        if stored is not None:
            done[key] = (stored, None, "")
    missing = [key for key in first if key not in done]
    jobs = [first[key].to_json() for key in missing]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    results: list[tuple[Estimate | None, str | None, str]] = []
    total = len(first)

    def progress() -> None:
        if on_progress is not None:
            on_progress(total - len(jobs) + len(results), total)

    if workers > 1 and len(jobs) >= PARALLEL_FROM:
        ctx = mp.get_context("spawn")
        with ctx.Pool(workers, initializer=_worker_init, initargs=(list(plugins),)) as pool:
            for result in pool.imap(_estimate_or_reason, jobs):
                results.append(result)
                progress()
    else:
        for job in jobs:
            results.append(_estimate_or_reason(job))
            progress()
    done.update(zip(missing, results, strict=True))
    verdicts = {}
    for key, (est, verdict, note) in done.items():
        verdicts[key] = (est, verdict or verdict_for(est, profile), note)
    return [PlannedCell(spec, *verdicts[key]) for spec, key in zip(cells, keys, strict=True)]


def wont_fit_record(planned: PlannedCell, profile: GpuProfile) -> dict[str, Any]:
    """The stored record of a cell that was not run because it is predicted not to fit."""
    est = planned.estimate
    assert est is not None
    return {
        "status": Status.WONT_FIT,
        "error": (
            f"predicted peak {est.peak_device_bytes / 2**30:.1f} GiB (NVML; allocator "
            f"{est.peak_allocated_bytes / 2**30:.1f} GiB) > {profile.title} "
            f"{profile.memory_bytes / 2**30:.1f} GiB; --force runs it"
        ),
        "estimate": planned.record(),
        "wall_s": 0.0,
    }
