"""`run --gpu NAME`: place the run, plan the profile's matrix, store what will not fit, run
the rest and write one report per suite and card."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from rich.markup import escape

from bench.gpu_plan_cli import NoGpu, cells_for_cards, place, plan_frame, plan_summary
from bench.gpu_suites import profile_suites
from bench.messages import LoggedConsole
from bench.models import canonical_model
from bench.plan import WONT_FIT, plan, wont_fit_record
from bench.registry import METHODS, TASKS, load_plugin_file
from bench.spec import CellSpec
from bench.store import Store
from bench.suites import SUITES
from bench.validate import check_cells


def _narrow(cells: list[CellSpec], args: argparse.Namespace) -> list[CellSpec]:
    """A profile's cells restricted to the --models / --tasks / --methods / --seeds given."""

    def names(text: str | None, canon: Any) -> set[str] | None:
        return {canon(t.strip()) for t in text.split(",") if t.strip()} if text else None

    models = names(args.models, canonical_model)
    tasks = names(args.tasks, TASKS.canonical)
    methods = names(args.methods, METHODS.canonical)
    return [
        c
        for c in cells
        if (models is None or c.model in models)
        and (tasks is None or c.task in tasks)
        and (methods is None or c.method in methods)
        and (args.seeds is None or c.seed < args.seeds)
    ]


def report_stem(suite: str, card: str, emulate: bool, gpu: str) -> str:
    """`gpu-7b-h100-sxm`, or `gpu-7b-rtx-4090-on-h100-sxm` for an emulated profile."""
    return f"{suite}-{gpu}-on-{card}" if emulate else f"{suite}-{card}"


def run_gpu(
    args: argparse.Namespace,
    console: LoggedConsole,
    budget: dict[str, Any],
    settings: dict[str, Any],
    command: str,
) -> int:
    """Plan (and unless --dry-run, run) the matrix of the profile `args.gpu`."""
    from bench.cli import make_executor
    from bench.report import claims_report, suite_report, write_report
    from bench.runner import exit_code, run_cells

    for path in args.plugin:
        load_plugin_file(path)
    try:
        placement = place(args.gpu, args.emulate, args.dry_run)
    except NoGpu as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    if placement.warning:
        console.print(f"[yellow]warning:[/yellow] {escape(placement.warning)}")
    if args.suite:
        suites = [SUITES.get(args.suite)]
        narrowing = {
            "methods": args.methods and args.methods.split(","),
            "tasks": args.tasks and args.tasks.split(","),
            "models": args.models and args.models.split(","),
            "seeds": args.seeds,
        }
        cells = cells_for_cards(
            suites, placement, {**narrowing, "budget": budget, "settings": settings, "lr": args.lr}
        )
    else:
        suites = profile_suites(placement.profile)
        cells = _narrow(
            cells_for_cards(
                suites, placement, {"budget": budget, "settings": settings, "lr": args.lr}
            ),
            args,
        )
    if not cells:
        raise ValueError("no cell left after narrowing the profile's suites")
    check_cells(cells)
    console.print(
        f"estimating the training peak of {len(cells)} cells for {placement.profile.title} ..."
    )
    started = time.perf_counter()
    planned = plan(cells, placement.profile, plugins=args.plugin)
    seconds = time.perf_counter() - started
    with Store(args.store) as store:
        statuses = {c.cell_id: store.status(c.cell_id) for c in cells}
        if args.dry_run:
            frame = plan_frame(planned, statuses)
            print(frame.to_markdown(index=False, disable_numparse=True))
            console.print(plan_summary(planned, placement, seconds))
            return 0
        console.print(plan_summary(planned, placement, seconds))
        to_run = []
        for p in planned:
            if p.verdict == WONT_FIT and not args.force:
                if statuses[p.spec.cell_id] not in ("ok", "wont_fit"):
                    store.save(p.spec, wont_fit_record(p, placement.profile))
                continue
            to_run.append(p)
        summary = run_cells(
            [p.spec for p in to_run],
            store,
            plugins=args.plugin,
            timeout_s=args.timeout,
            in_process=args.in_process,
            console=console,
            command=command,
            extra={p.spec.cell_id: {"estimate": p.record()} for p in to_run},
            executor=make_executor(args, "cuda"),
        )
        for suite in suites:
            suite_cells = [c for c in cells if (c.model, c.task) in _pairs(suite)]
            stem = report_stem(
                suite.name, placement.card, placement.emulate, placement.profile.name
            )
            text = suite_report(suite, suite_cells, store, command, plots=(Path(args.out), stem))
            path = write_report(text, args.out, stem)
            console.print(f"report written to {path}")
        claims = write_report(claims_report(store, command), args.out, "claims")
        console.print(f"claims written to {claims}; log {console.log_path}")
        counts = summary.counts()
        console.print("ran: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "-")
        return exit_code(summary, store, console)


def _pairs(suite: Any) -> set[tuple[str, str]]:
    return {(canonical_model(m), TASKS.canonical(t)) for m in suite.models for t in suite.tasks}
