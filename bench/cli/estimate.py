"""`python run_all.py estimate`: one cell's predicted peak, or a GPU profile's whole plan."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from rich.console import Console

from bench.cli.common import (
    parse_setting,
)
from bench.cli.plan_tables import estimate_json, plan_frame, plan_summary, plan_totals
from bench.core.plugins import load_plugin_file
from bench.core.registry import METHODS
from bench.core.spec import CellSpec
from bench.core.vocab import StepShape
from bench.hardware.gpus import get_gpu
from bench.plan.estimate import Estimate, estimate
from bench.plan.gpu_suites import profile_suites
from bench.plan.meta_model import config_name
from bench.plan.placement import GIB, cells_for_cards, place
from bench.plan.planner import plan, preference_step, task_shape, verdict_for
from bench.plan.selection import Selection
from bench.plan.validate import check_at_least
from bench.predict.cell_time import time_fields


def _shape_spec(est: Estimate) -> CellSpec:
    """What the time model reads of a cell (precision, batch, length, checkpointing)."""
    return CellSpec(
        model=est.model,
        task="-",
        method=est.method,
        seed=0,
        precision=est.precision,
        batch_size=est.batch_size,
        max_length=est.max_length,
        grad_checkpointing=est.grad_checkpointing,
    )


def _one_cell(args: argparse.Namespace, settings: dict[str, Any]) -> Estimate:
    check_at_least("--loss-chunks", args.loss_chunks, 1)
    kind, labels = (
        task_shape(args.task, args.preference_objective) if args.task else (None, args.labels)
    )
    preference = None
    if args.task:  # a preference task's step: both sequences of a pair, DPO's reference
        spec = CellSpec(
            model=args.model,
            task=args.task,
            method=METHODS.canonical(args.method),
            seed=0,
            preference_objective=args.preference_objective,
            dpo_reference=args.dpo_reference,
        )
        preference = preference_step(spec)
    return estimate(
        config_name(args.model),
        METHODS.canonical(args.method),
        settings,
        StepShape(
            args.precision,
            args.batch_size,
            args.max_length,
            args.optimizer,
            args.grad_checkpointing,
            kind,
            labels,
            optimizer_in_backward=args.optimizer_in_backward,
            loss_chunks=args.loss_chunks,
            preference=preference,
        ),
    )


def _print_time(fields: dict[str, Any], title: str) -> None:
    if not fields:
        print(f"  time on {title}: not predicted (run `python run_all.py predict --fit` first)")
        return
    print(
        f"  predicted on {title}: {fields['predicted_step_s']:.3f} s a step, "
        f"{fields['predicted_tokens_per_s']:,.0f} tokens/s, MFU "
        f"{fields['predicted_mfu']:.0%}, at most {fields['predicted_energy_j_per_token']:.4f} "
        "J/token (roofline of the traced step, fitted on the references; TDP bound)"
    )


def _print_one(est: Estimate, verdict: str | None, gpu: str | None) -> None:
    print(
        f"{est.model} / {est.method} / {est.precision} / {est.optimizer}"
        f"{' / grad-ckpt' if est.grad_checkpointing else ''}"
        f"{' / optimizer in backward' if est.optimizer_in_backward else ''}"
        f"{f' / loss in {est.loss_chunks} chunks' if est.loss_chunks else ''}"
        f": batch {est.batch_size} x "
        f"{est.max_length} tokens ({est.task_kind})"
    )
    for name, value in est.components.items():
        print(f"  {name:<28} {value / GIB:8.2f} GiB")
    print(
        f"  {'peak allocated':<28} {est.peak_allocated_bytes / GIB:8.2f} GiB"
        "  (torch.cuda.max_memory_allocated of the training step)"
    )
    if est.managed_bytes:
        print(
            f"  {'paged optimizer states':<28} {est.managed_bytes / GIB:8.2f} GiB"
            "  (CUDA unified memory: outside torch's allocator, evicted to the host when the "
            "card is full)"
        )
    print(
        f"  {'peak on the device (NVML)':<28} {est.peak_device_bytes / GIB:8.2f} GiB"
        "  (+ CUDA context and allocator cache)"
    )
    print(
        f"  trainable {est.trainable_params:,} of {est.total_params:,} parameters; "
        f"estimated in {est.seconds:.1f} s"
    )
    for part, how in est.basis.items():
        print(f"  basis: {part}: {how}")
    if verdict is not None:
        print(f"  verdict on {gpu}: {verdict}")


def cmd_estimate(args: argparse.Namespace, console: Console, command: str) -> int:
    """One cell (--model and --method), or the plan of a profile (--gpu alone)."""
    for path in args.plugin:
        load_plugin_file(path)
    settings = dict(parse_setting(t) for t in args.set)
    if args.model or args.method:
        if not (args.model and args.method):
            raise ValueError("estimate needs both --model and --method (or --gpu alone)")
        est = _one_cell(args, settings)
        profile = get_gpu(args.gpu) if args.gpu else None
        verdict = verdict_for(est, profile) if profile else None
        timed = time_fields(est, _shape_spec(est), profile) if profile else {}
        if args.json:
            print(json.dumps({**est.to_dict(), "verdict": verdict, **timed}, indent=1))
        else:
            _print_one(est, verdict, profile.title if profile else None)
            if profile:
                _print_time(timed, profile.title)
        return 0
    if not args.gpu:
        raise ValueError("estimate needs --model and --method, or --gpu NAME for its matrix")
    placement = place(args.gpu, emulate=False, dry_run=True, detected=[])
    cells = cells_for_cards(profile_suites(placement.profile), placement, Selection())
    started = time.perf_counter()
    planned = plan(cells, placement.profile, plugins=args.plugin)
    seconds = time.perf_counter() - started
    if args.json:
        print(estimate_json(planned, placement.profile))
        return 0
    table = plan_frame(planned, {}, placement.profile)
    print(table.to_markdown(index=False, disable_numparse=True))
    console.print(plan_summary(planned, placement, seconds))
    console.print(plan_totals(planned, placement.profile))
    return 0
