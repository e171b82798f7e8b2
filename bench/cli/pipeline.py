"""The one run pipeline every run goes through, a suite's or a GPU profile's: store the plan's
verdicts, run its cells, write its pages and the claims, print what ran, the exit code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.core.messages import LoggedConsole
from bench.core.spec import CellSpec, SuiteSpec
from bench.core.status import Status
from bench.execute.options import ExecutionOptions
from bench.store.cell_store import Store


@dataclass(frozen=True)
class Page:
    """A suite's report over `cells`: written as `stem`.md, or only printed (stem None)."""

    suite: SuiteSpec
    cells: list[CellSpec]
    stem: str | None


@dataclass
class RunPlan:
    """What a run does: `cells` to run on `device` (with `extra` fields for their records, such
    as an estimate), `verdicts` stored instead of running (a wont_fit), `pages` to report."""

    cells: list[CellSpec]
    device: str
    pages: list[Page]
    extra: dict[str, dict[str, Any]] = field(default_factory=dict)
    verdicts: list[tuple[CellSpec, dict[str, Any]]] = field(default_factory=list)


def execute(
    plan: RunPlan, execution: ExecutionOptions, store_path: str, out: str, console: LoggedConsole
) -> int:
    """Run the plan; 0 when every cell ended ok, unsupported or wont_fit, else 1."""
    from bench.execute.executors import make_executor
    from bench.execute.runner import exit_code, run_cells
    from bench.report.comparison_book import ComparisonBook
    from bench.report.comparisons_page import comparisons_page
    from bench.report.suite_page import claims_report, suite_report, write_report

    command = execution.command or ""
    with Store(store_path) as store:
        for spec, record in plan.verdicts:
            if store.status(spec.cell_id) not in (Status.OK, Status.WONT_FIT):
                store.save(spec, record)
        summary = run_cells(
            plan.cells,
            store,
            console=console,
            command=execution.command,
            extra=plan.extra,
            executor=make_executor(execution, plan.device),
        )
        written = []
        book = ComparisonBook(store)  # one family per comparison, shared by every page
        for page in plan.pages:
            plots = (Path(out), page.stem) if page.stem else None
            text = suite_report(page.suite, page.cells, store, command, plots=plots, book=book)
            if page.stem:
                written.append(write_report(text, out, page.stem))
            if len(plan.pages) == 1:
                print(text)
        if written:
            claims = write_report(claims_report(store, command, book=book), out, "claims")
            written.append(write_report(comparisons_page(book, command), out, "comparisons"))
            pages = ", ".join(map(str, written))
            console.print(f"report written to {pages} (and {claims}); log {console.log_path}")
        counts = summary.counts()
        if counts:
            console.print("ran: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        else:
            console.print("nothing to train: every cell was already stored")
        return exit_code(summary, store, console)
