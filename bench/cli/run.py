"""`run` (the default command): a suite's cells, or with --gpu a profile's plan, through the
one pipeline; --search-lr chooses the rates first."""

from __future__ import annotations

import argparse
import dataclasses

from rich.markup import escape

from bench.cli.common import csv_list, parse_setting, resolve_device, stored_statuses
from bench.cli.pipeline import Page, RunPlan, execute
from bench.cli.search import SearchOptions
from bench.cli.stored_teacher import keep_states_here, resolve_teacher
from bench.core.messages import LoggedConsole
from bench.core.plugins import load_plugin_file
from bench.core.spec import CellSpec
from bench.execute.options import ExecutionOptions
from bench.plan.selection import Selection
from bench.plan.suites import SUITES
from bench.plan.validate import check_at_least, check_cells, check_device

# run's budget options: the CellSpec field each sets (unset: the suite's value stands)
BUDGET_OPTIONS = (
    "balance",
    "train_size",
    "max_new_tokens",
    "precision",
    "batch_size",
    "max_length",
    "optimizer",
    "grad_checkpointing",
    "optimizer_in_backward",
    "loss_chunks",
    "grad_clip",
    "inference",
    "distill_temperature",
    "distill_alpha",
    "preference_objective",
    "dpo_beta",
    "dpo_reference",
    "dynamic_mask",
    "augment",
    "augment_copies",
    "compile",
    "grad_accumulation",
    "eval_every",
    "early_stopping",
    "shots",
    "max_steps",
    "unfreeze_every",
    "self_training",
)


def selection_from(args: argparse.Namespace) -> Selection:
    check_at_least("--seeds", args.seeds, 1)
    budget = {k: getattr(args, k) for k in BUDGET_OPTIONS if getattr(args, k) is not None}
    return Selection(
        methods=csv_list(args.methods),
        tasks=csv_list(args.tasks),
        models=csv_list(args.models),
        seeds=args.seeds,
        budget=budget,
        settings=dict(parse_setting(t) for t in args.set),
        lr=args.lr,
        teacher=getattr(args, "distill_from", None),
    )


def execution_from(args: argparse.Namespace, command: str) -> ExecutionOptions:
    check_at_least("--timeout", args.timeout, 0, strict=True)
    return ExecutionOptions(
        plugins=tuple(args.plugin),
        timeout_s=args.timeout,
        in_process=args.in_process,
        executor=args.executor,
        address=args.address,
        gpus=csv_list(args.gpus),
        workers=args.workers,
        command=command,
    )


def cmd_run(args: argparse.Namespace, console: LoggedConsole, command: str) -> int:
    for path in args.plugin:
        load_plugin_file(path)
    selection, execution = selection_from(args), execution_from(args, command)
    if getattr(args, "keep_states", False):
        keep_states_here(args.store, args.executor)
    if selection.teacher is not None and not args.dry_run:
        teacher = resolve_teacher(selection.teacher, args.store)
        selection = dataclasses.replace(selection, teacher=teacher)
    if args.gpu:
        plan = _gpu_plan(args, selection, execution, console)
    else:
        plan = _suite_plan(args, selection, execution, console)
    if plan is None:  # a dry run: the plan was printed
        return 0
    return execute(plan, execution, args.store, args.out, console)


def _gpu_plan(
    args: argparse.Namespace,
    selection: Selection,
    execution: ExecutionOptions,
    console: LoggedConsole,
) -> RunPlan | None:
    from bench.cli import gpu

    if args.search_lr:
        raise ValueError("--search-lr runs on a suite (--device cuda), not yet with --gpu")
    execution.check("cuda")  # before the estimates, not after them
    placement, suites, cells = gpu.placed_cells(
        args.gpu, args.emulate, args.dry_run, args.suite, selection
    )  # NoGpu (exit 2) on a real run without one
    if placement.warning:
        console.print(f"[yellow]warning:[/yellow] {escape(placement.warning)}")
    return gpu.gpu_plan(
        placement,
        suites,
        cells,
        force=args.force,
        plugins=execution.plugins,
        store_path=args.store,
        dry_run=args.dry_run,
        console=console,
    )


def _suite_plan(
    args: argparse.Namespace,
    selection: Selection,
    execution: ExecutionOptions,
    console: LoggedConsole,
) -> RunPlan | None:
    if args.emulate or args.force:
        raise ValueError("--emulate and --force go with --gpu NAME")
    suite = SUITES.get(args.suite or "default")
    device = resolve_device(args.device)
    if not args.dry_run:
        check_device(device)
    execution.check(device)
    cells = selection.expand(suite, device)
    check_cells(cells, given=selection.budget)
    if args.cells:
        cells = only_cells(cells, csv_list(args.cells), suite.name)
    if args.dry_run:
        statuses = stored_statuses(args.store, [c.cell_id for c in cells])
        for spec in cells:
            print(f"{spec.cell_id}  {statuses.get(spec.cell_id) or '-':<11} {spec.label()}")
        return None
    if (args.search_key or args.search_budget) and not args.search_lr:
        raise ValueError("--search-key and --search-budget go with --search-lr RATES")
    narrowed = selection.narrows or bool(args.cells)
    if args.search_lr:
        from bench.cli.search import search

        options = SearchOptions(
            args.search_lr, args.search_seeds, args.search_key, args.search_budget
        )
        cells = search(cells, options, execution, device, args.store, args.out, console)
        narrowed = True
    console.print(f"suite {suite.name!r}: {len(cells)} cells on {device}, store {args.store}")
    if device == "cpu":
        _warn_if_busy(console)
    return RunPlan(cells, device, [Page(suite, cells, None if narrowed else suite.name)])


def _warn_if_busy(console: LoggedConsole) -> None:
    """Torch on a few cores slows several-fold beside any other busy process: say which are
    busy now (the cells still run; their records mark contended step times)."""
    from bench.meters.load import busy_processes

    busy = busy_processes()
    if busy:
        names = ", ".join(f"{name} (pid {pid}, {used:.0%} of a core)" for pid, name, used in busy)
        console.print(
            f"[yellow]warning:[/yellow] other processes are busy on this machine: {escape(names)}; "
            "step times taken beside them are slower and marked contended (metrics are not "
            "affected); run one suite at a time for timings"
        )


def only_cells(cells: list[CellSpec], wanted: list[str], suite: str) -> list[CellSpec]:
    """The suite's cells named by --cells, in the suite's order; an id the suite does not
    expand to is refused with the ids it does."""
    ids = {spec.cell_id for spec in cells}
    unknown = [cell_id for cell_id in wanted if cell_id not in ids]
    if unknown:
        raise ValueError(
            f"--cells {','.join(unknown)}: not a cell of suite {suite!r} with these options "
            f"(its cells: {', '.join(sorted(ids))}; `run --dry-run` lists them)"
        )
    return [spec for spec in cells if spec.cell_id in set(wanted)]
