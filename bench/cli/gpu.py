"""`run --gpu NAME` as a planning step: place the run, plan the profile's matrix (estimates
and verdicts), and hand the pipeline the cells that fit, the wont_fit verdicts to store and one
page per suite and card."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console

from bench.cli.common import stored_statuses
from bench.cli.pipeline import Page, RunPlan
from bench.cli.plan_tables import plan_frame, plan_summary, plan_totals
from bench.core.registry import TASKS
from bench.core.spec import CellSpec, SuiteSpec
from bench.core.status import Verdict
from bench.models.sources import canonical_model
from bench.plan.gpu_suites import profile_suites
from bench.plan.placement import Placement, cells_for_cards, place
from bench.plan.planner import plan, wont_fit_record
from bench.plan.selection import Selection
from bench.plan.suites import SUITES
from bench.plan.validate import check_cells
from bench.predict.cell_time import time_fields


def report_stem(suite: str, card: str, emulate: bool, gpu: str) -> str:
    """`gpu-7b-h100-sxm`, or `gpu-7b-rtx-4090-on-h100-sxm` for an emulated profile."""
    return f"{suite}-{gpu}-on-{card}" if emulate else f"{suite}-{card}"


def placed_cells(
    gpu: str, emulate: bool, dry_run: bool, suite: str | None, selection: Selection
) -> tuple[Placement, list[SuiteSpec], list[CellSpec]]:
    """The placement, the suites (the named one, else the profile's) and their cells."""
    placement = place(gpu, emulate, dry_run)
    if suite:
        suites = [SUITES.get(suite)]
        cells = cells_for_cards(suites, placement, selection)
    else:
        suites = profile_suites(placement.profile)
        cells = cells_for_cards(suites, placement, selection.overlay())
        cells = selection.narrow(cells)
    if not cells:
        raise ValueError("no cell left after narrowing the profile's suites")
    check_cells(cells, given=selection.budget)
    return placement, suites, cells


def gpu_plan(
    placement: Placement,
    suites: list[SuiteSpec],
    cells: list[CellSpec],
    *,
    force: bool,
    plugins: tuple[str, ...],
    store_path: str,
    dry_run: bool,
    console: Console,
) -> RunPlan | None:
    """Estimate every cell; print the plan (the whole table on a dry run, which returns None);
    the run plan: cells that fit (all with `force`), wont_fit verdicts, a page per suite."""
    console.print(
        f"estimating the training peak of {len(cells)} cells for {placement.profile.title} ..."
    )
    started = time.perf_counter()
    planned = plan(cells, placement.profile, plugins=plugins)
    seconds = time.perf_counter() - started
    if dry_run:
        statuses = stored_statuses(store_path, [c.cell_id for c in cells])
        table = plan_frame(planned, statuses, placement.profile)
        print(table.to_markdown(index=False, disable_numparse=True))
    console.print(plan_summary(planned, placement, seconds))
    console.print(plan_totals(planned, placement.profile))
    if dry_run:
        return None
    to_run, skipped = [], []
    for p in planned:
        (skipped if p.verdict == Verdict.WONT_FIT and not force else to_run).append(p)
    pages = []
    for suite in suites:
        pairs = _pairs(suite)
        stem = report_stem(suite.name, placement.card, placement.emulate, placement.profile.name)
        pages.append(Page(suite, [c for c in cells if (c.model, c.task) in pairs], stem))
    return RunPlan(
        cells=[p.spec for p in to_run],
        device="cuda",
        pages=pages,
        extra={
            p.spec.cell_id: {
                "estimate": {
                    **p.record(),
                    **time_fields(p.estimate, p.spec, placement.profile),
                }
            }
            for p in to_run
        },
        verdicts=[(p.spec, wont_fit_record(p, placement.profile)) for p in skipped],
    )


def _pairs(suite: Any) -> set[tuple[str, str]]:
    return {(canonical_model(m), TASKS.canonical(t)) for m in suite.models for t in suite.tasks}
