"""Run one cell in the current process, as a short composition of steps: resolve, load and
apply the method, compose the regimes, train inside the meters, evaluate, record."""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from bench.cell.environment import environment
from bench.cell.kept_state import keep_state
from bench.cell.load import LoadedCell, compiled, load_and_apply
from bench.cell.record import Evaluated, Measured, cell_record
from bench.cell.regimes import Regimes, compose
from bench.cell.scorer import Scorer
from bench.cell.setup import CellSetup, resolve
from bench.cell.teacher import Taught, teacher_logits
from bench.cell.train_loop import LoopResult, train_loop
from bench.core.errors import Unsupported
from bench.core.oom import is_device_oom, is_host_oom
from bench.core.spec import CellSpec
from bench.core.status import Status
from bench.data.splits import Encoded
from bench.meters.energy import EnergyMeter
from bench.meters.flops import training_flops_per_token
from bench.meters.load import LoadMeter
from bench.meters.memory import PeakMemory
from bench.models.precision import enable_tf32
from bench.regimes.distill import Distiller

ProgressFn = Callable[[int, int, float], None]


def run_cell(
    spec: CellSpec,
    on_step: ProgressFn | None = None,
    on_evaluate: Callable[[dict[str, float]], None] | None = None,
    after_evaluation: Callable[[CellSetup, LoadedCell], None] | None = None,
    keep_state_in: Path | None = None,
) -> dict[str, Any]:
    """Train and evaluate one cell; returns the result record (status ok) or raises.
    `after_evaluation` sees the trained cell (a distilled student's teacher keeps its logits);
    `keep_state_in`: the folder its trained tensors are kept in (bench.cell.kept_state)."""
    setup = resolve(spec)
    taught = _teacher(setup)  # a teacher trained here ends before this cell's meters start
    wall_start = time.perf_counter()
    memory = PeakMemory(setup.device).start("load")
    torch.manual_seed(spec.seed)  # the seed fixes head initialisation, dropout and data order
    tf32 = enable_tf32(setup.device)
    loaded = load_and_apply(setup)
    regimes = compose(setup, loaded)
    scorer = Scorer(setup, loaded, on_evaluate)
    fit = _trainer(setup, loaded, regimes, scorer, on_step, taught)

    memory.boundary("train")
    energy = EnergyMeter(setup.device).start()
    machine = LoadMeter().start()  # what else ran while it trained: its step times' context
    teacher = fit(loaded.train)
    loop, self_trained, steps = regimes.self_train(setup, loaded, teacher, fit, scorer.validation)
    speed = {**loop.timer.summary(), "load": machine.stop().to_dict()}
    mean_length = speed.get("padded_tokens_total", 0) / max(loop.samples_seen, 1)
    flops = training_flops_per_token(loaded.model, max(1, round(mean_length)))
    energy_out = energy.stop(steps=steps, tokens=speed.get("tokens_total"))

    memory.boundary("evaluate")
    forgot = regimes.probe.finish()
    loop.curve.append({"step": len(loop.losses), **scorer.validation()})
    evaluated = Evaluated(*scorer.final())
    measured = Measured(memory.stop(), speed, flops, energy_out, tf32)
    if after_evaluation is not None:
        after_evaluation(setup, loaded)
    kept = keep_state(loaded.model, keep_state_in) if keep_state_in is not None else None
    serving = _serve(setup, loaded) if spec.inference else None
    wall_s = time.perf_counter() - wall_start
    record = cell_record(
        setup,
        loaded,
        regimes,
        loop,
        self_trained,
        measured,
        evaluated,
        forgot,
        wall_s,
        environment(setup.device),
    )
    out = record.to_dict()
    if serving is not None:
        out["inference"] = serving
    if kept is not None:
        out["kept_state"] = kept
    if loaded.preference is not None:
        out["preference"] = loaded.preference.record()
    if taught is not None:
        out["distillation"] = {
            **taught.record,
            "temperature": spec.distill_temperature,
            "alpha": spec.distill_alpha,
        }
    return out


def _teacher(setup: CellSetup) -> Taught | None:
    """A distilled cell's teacher logits on its training split (None for other cells)."""
    if setup.spec.teacher is None:
        return None
    return teacher_logits(CellSpec.from_json(setup.spec.teacher), setup.split.hash, run_cell)


def _serve(setup: CellSetup, loaded: LoadedCell) -> dict:
    """The inference stage on the test part (bench.serve.stage), outside the training meters; a
    failure of the stage is recorded in it, and the trained cell kept."""
    from bench.core.registry import split_common
    from bench.serve.stage import inference_stage

    def base() -> torch.nn.Module:
        torch.manual_seed(setup.spec.seed)  # a `config:` model's random weights, as trained
        return setup.model_info.load(setup.load_kind, setup.num_labels, setup.load_target())[0]

    def rebuilt() -> torch.nn.Module:
        own, _ = split_common(setup.settings)
        return setup.method.apply(base(), own, loaded.ctx)

    try:
        return inference_stage(
            loaded.model, base, rebuilt, loaded.test, setup.device, loaded.pad_id
        )
    except Exception as exc:  # the trained cell stands: the stage's failure is recorded with it
        if is_device_oom(exc) or is_host_oom(exc):
            raise
        text = "".join(traceback.format_exception(exc)).strip()
        return {"error": f"{type(exc).__name__}: {exc}", "traceback": text}


def _trainer(
    setup: CellSetup,
    loaded: LoadedCell,
    regimes: Regimes,
    scorer: Scorer,
    on_step: ProgressFn | None,
    taught: Taught | None = None,
) -> Callable[[Encoded], LoopResult]:
    """The cell's training loop over some data, with its regimes (a student trains twice)."""
    trained = compiled(loaded.model) if setup.spec.compile else loaded.model
    spec = setup.spec
    distiller = None
    if taught is not None:
        if taught.logits.shape[0] != len(loaded.train):
            raise ValueError(
                f"the teacher's logits cover {taught.logits.shape[0]} training examples, the "
                f"student trains on {len(loaded.train)}"
            )
        distiller = Distiller(
            taught.logits, spec.distill_temperature, spec.distill_alpha, setup.device
        )

    def fit(data: Encoded) -> LoopResult:
        return train_loop(
            trained,
            data,
            setup.device,
            loaded.pad_id,
            loaded.cfg,
            on_step=on_step,
            step_hooks=loaded.ctx.step_hooks,
            evaluate=scorer.validation,
            regularizer=regimes.regularizer,
            unfreeze=regimes.unfreeze,
            objective=_objective(distiller, loaded),
            inputs=regimes.inputs,
        )

    return fit


def _objective(
    distiller: Distiller | None, loaded: LoadedCell
) -> Callable[[Any, dict[str, torch.Tensor], list[int]], torch.Tensor] | None:
    """What the loop minimises instead of the model's own loss: a student's mix with its
    teacher, or a preference pair's loss; None for the task's loss."""
    if distiller is not None:
        return distiller.objective
    return loaded.preference.objective if loaded.preference is not None else None


def failure_record(exc: BaseException) -> dict[str, Any]:
    """Map an exception to a stored status: unsupported, oom (the device's, whatever exception
    carries it, with the allocator's peak), host_oom, or error; with the traceback."""
    record: dict[str, Any] = {}
    if isinstance(exc, Unsupported):
        status = Status.UNSUPPORTED
    elif is_device_oom(exc):
        status = Status.OOM
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            record["memory"] = {
                "torch_max_allocated_bytes": torch.cuda.max_memory_allocated(),
                "torch_max_reserved_bytes": torch.cuda.max_memory_reserved(),
            }
    elif is_host_oom(exc):
        status = Status.HOST_OOM
    else:
        status = Status.ERROR
    text = "".join(traceback.format_exception(exc)).strip()
    return {"status": status, "error": f"{type(exc).__name__}: {exc}", "traceback": text, **record}
