"""A timing pass: the steady-state training step of each configuration re-timed side by side,
interleaved (A, B, C, A, B, C, ...) in this one process, each window with the machine's load,
so that a speed ratio divides timings taken minutes apart on one machine, not days apart."""

from __future__ import annotations

import dataclasses
import gc
import statistics
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bench.core.spec import CellSpec
from bench.meters.load import Load, LoadMeter
from bench.stats.configurations import configuration_key

DEFAULT_ROUNDS = 3
DEFAULT_STEPS = 6  # timed steps per window, after the warm-up steps
WARMUP_STEPS = 3  # as the cells' own timer excludes


@dataclass(frozen=True)
class Window:
    """One configuration's timed steps in one round of a pass, with the load over them."""

    pass_id: str
    round: int
    position: int
    spec: CellSpec
    step_times: list[float]
    load: Load
    started_at: str
    env: dict[str, Any] | None = None

    @property
    def config(self) -> str:
        return configuration_key(self.spec)

    @property
    def median_s(self) -> float:
        return statistics.median(self.step_times)

    def to_row(self) -> dict[str, Any]:
        return {
            "pass_id": self.pass_id,
            "round": self.round,
            "position": self.position,
            "config": self.config,
            "cell_id": self.spec.cell_id,
            "spec": self.spec.to_json(),
            "step_times": self.step_times,
            "load": self.load.to_dict(),
            "env": self.env,
            "started_at": self.started_at,
        }


def representatives(cells: Sequence[CellSpec]) -> list[CellSpec]:
    """One cell per configuration (its lowest seed), in the cells' order."""
    chosen: dict[str, CellSpec] = {}
    for spec in cells:
        key = configuration_key(spec)
        if key not in chosen or spec.seed < chosen[key].seed:
            chosen[key] = spec
    return list(chosen.values())


def time_step(spec: CellSpec, steps: int = DEFAULT_STEPS) -> tuple[list[float], Load]:
    """Build the cell's model with its method and regimes as the cell does, then time
    WARMUP_STEPS + `steps` optimiser steps of its own data (no evaluation); the load covers the
    steps only (building is not timed). A preference cell steps on its pairs' loss (DPO's
    reference pass included); a distilled cell is timed without its teacher's term (the
    teacher's logits are not built here: a lookup and a KL over the classes)."""
    import torch

    from bench.cell.load import load_and_apply
    from bench.cell.regimes import compose
    from bench.cell.setup import resolve
    from bench.cell.train_loop import train_loop

    setup = resolve(spec)
    torch.manual_seed(spec.seed)
    loaded = load_and_apply(setup)
    regimes = compose(setup, loaded)
    cfg = dataclasses.replace(
        loaded.cfg,
        max_steps=WARMUP_STEPS + steps,
        eval_every=None,
        early_stopping=None,
        timer_warmup_steps=WARMUP_STEPS,
    )
    meter = LoadMeter().start()
    result = train_loop(
        loaded.model,
        loaded.train,
        setup.device,
        loaded.pad_id,
        cfg,
        step_hooks=loaded.ctx.step_hooks,
        regularizer=regimes.regularizer,
        unfreeze=regimes.unfreeze,
        objective=loaded.preference.objective if loaded.preference is not None else None,
        inputs=regimes.inputs,
    )
    load = meter.stop()
    times = result.timer.times[WARMUP_STEPS:]
    del loaded, regimes, result
    gc.collect()
    return times, load


def timing_pass(
    cells: Sequence[CellSpec],
    rounds: int = DEFAULT_ROUNDS,
    steps: int = DEFAULT_STEPS,
    on_window: Callable[[Window], None] | None = None,
    timer: Callable[[CellSpec, int], tuple[list[float], Load]] = time_step,
) -> list[Window]:
    """Time every configuration of `cells` once per round, in the same order each round;
    `on_window` sees each window as it ends (to store it: nothing is lost on a crash)."""
    from bench.cell.environment import environment

    if rounds < 2:
        raise ValueError(f"rounds {rounds}: a spread needs at least 2 rounds")
    if steps < 2:
        raise ValueError(f"steps {steps}: a median step time needs at least 2 steps")
    configs = representatives(cells)
    pass_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    env = None
    windows = []
    for r in range(rounds):
        for position, spec in enumerate(configs):
            started = datetime.now(timezone.utc).isoformat(timespec="seconds")
            times, load = timer(spec, steps)
            if env is None:
                env = environment(_device_of(spec))
            window = Window(pass_id, r, position, spec, times, load, started, env)
            windows.append(window)
            if on_window is not None:
                on_window(window)
    return windows


def _device_of(spec: CellSpec) -> Any:
    import torch

    return torch.device(spec.device)
