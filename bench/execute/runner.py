"""Runs cells: skips stored ones, one fresh worker process per cell, progress and ETA."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from bench.core.spec import CellSpec
from bench.core.status import FINE, Status
from bench.execute.executors import Executor, InlineExecutor, largest_first
from bench.execute.worker import kept_in
from bench.store.cell_store import Store


@dataclass
class RunSummary:
    skipped: list[CellSpec] = field(default_factory=list)
    ran: list[tuple[CellSpec, str]] = field(default_factory=list)
    elsewhere: list[CellSpec] = field(default_factory=list)  # claimed by another live run

    def counts(self) -> Counter:
        return Counter(status for _, status in self.ran)

    def failures(self) -> list[tuple[CellSpec, str]]:
        """Cells that ended other than ok, unsupported or wont_fit (what makes a run exit 1)."""
        return [(spec, status) for spec, status in self.ran if status not in FINE]


def exit_code(summary: RunSummary, store: Store, console: Console) -> int:
    """0 when every cell ran ended ok, unsupported or wont_fit; else 1, after the table of
    failures (each with its error's first line)."""
    failed = summary.failures()
    if not failed:
        return 0
    console.print(f"[red]{len(failed)} cell(s) failed:[/red]")
    for spec, status in failed:
        error = (store.get(spec.cell_id) or {}).get("error") or ""
        first = error.strip().splitlines()[0] if error.strip() else ""
        console.print(f"  {status:<9} {spec.cell_id}  {escape(spec.label())}: {escape(first)}")
    return 1


def _result_line(spec: CellSpec, record: dict[str, Any]) -> str:
    status = record["status"]
    if status != Status.OK:
        return (
            f"[red]{status}[/red] {escape(spec.label())}: {escape(str(record.get('error') or ''))}"
        )
    metric = record["primary_metric"]
    value = record["metrics"][metric]
    return (
        f"[green]ok[/green] {escape(spec.label())}: {metric} {value:.4f}, "
        f"step {record['speed'].get('step_time_median_s', float('nan')) * 1000:.0f} ms, "
        f"{record['wall_s']:.0f} s"
    )


COLUMNS = (
    TextColumn("{task.description}"),
    BarColumn(),
    MofNCompleteColumn(),
    TaskProgressColumn(),
    TimeElapsedColumn(),
    TextColumn("ETA"),
    TimeRemainingColumn(),
)


def run_cells(
    cells: Sequence[CellSpec],
    store: Store,
    *,
    plugins: Sequence[str] = (),
    timeout_s: float | None = None,
    in_process: bool = False,
    console: Console | None = None,
    command: str | None = None,
    extra: dict[str, dict[str, Any]] | None = None,
    executor: Executor | None = None,
) -> RunSummary:
    """Run every cell that the store lacks as `ok`; write each result as soon as it ends.
    `extra` adds fields to a cell's record by cell id (the estimate a GPU plan made);
    `executor` (bench.execute.executors) keeps its slots busy, largest estimated memory first;
    without one, cells run one at a time (`plugins`, `timeout_s`, `in_process` apply)."""
    console = console or Console()
    summary = RunSummary()
    todo = []
    for spec in cells:
        (summary.skipped if _done(spec, store) else todo).append(spec)
    if summary.skipped:
        console.print(f"{len(summary.skipped)} of {len(cells)} cells already stored: skipped")
    again = [spec for spec in todo if store.has_ok(spec.cell_id)]
    if again:
        console.print(
            f"{len(again)} stored cell(s) without a kept state run again to keep one "
            "(--keep-states); their new records replace the old"
        )
    if not todo:
        if executor is not None:
            executor.close()
        return summary
    executor = executor or InlineExecutor(plugins, timeout_s, in_process)
    _dispatch(todo, store, executor, summary, console, command, extra)
    if summary.elsewhere:
        console.print(
            f"{len(summary.elsewhere)} cell(s) were being run by another process on this store: "
            "left to it (run again once it is done to see them here)"
        )
    return summary


def _dispatch(
    todo: list[CellSpec],
    store: Store,
    executor: Executor,
    summary: RunSummary,
    console: Console,
    command: str | None,
    extra: dict[str, dict[str, Any]] | None,
) -> None:
    """The one dispatch loop: keep `executor.slots` cells in flight, claiming each as it is
    dispatched and saving each result as it arrives; an interruption stores nothing and lets
    the claims go."""
    waiting = largest_first(todo, extra)
    pending: dict[Any, tuple[CellSpec, Any]] = {}
    if executor.slots > 1:
        console.print(f"{len(waiting)} cells, {executor.slots} at a time")
    try:
        with Progress(*COLUMNS, console=console, transient=False) as progress:
            suite_bar = progress.add_task("suite", total=len(waiting))
            while waiting or pending:
                while waiting and len(pending) < executor.slots:
                    spec = waiting.pop(0)
                    if not _take(spec, store, summary):
                        progress.advance(suite_bar)
                        continue
                    bar = progress.add_task(f"  {escape(spec.label())}", total=None)
                    handle = executor.submit(spec, _step_progress(progress, bar, spec))
                    pending[handle] = (spec, bar)
                if not pending:
                    continue
                for handle, record in executor.wait_any(list(pending)):
                    spec, bar = pending.pop(handle)
                    _finish(spec, record, store, command, extra)
                    summary.ran.append((spec, record["status"]))
                    progress.remove_task(bar)
                    progress.advance(suite_bar)
                    progress.console.print(_result_line(spec, record))
    finally:
        for spec, _ in pending.values():
            store.release(spec.cell_id)
        executor.close()


def _step_progress(progress: Progress, bar: Any, spec: CellSpec) -> Any:
    def on_step(step: int, total: int, loss: float) -> None:
        progress.update(
            bar,
            completed=step,
            total=total,
            description=f"  {escape(spec.label())} loss {loss:.3f}",
        )

    return on_step


def _take(spec: CellSpec, store: Store, summary: RunSummary) -> bool:
    """Claim the cell for this run; False (noted in `summary`) when another live run holds it
    or has stored it as ok meanwhile."""
    if not store.claim(spec.cell_id):
        summary.elsewhere.append(spec)
        return False
    if _done(spec, store):
        store.release(spec.cell_id)
        summary.skipped.append(spec)
        return False
    return True


def _done(spec: CellSpec, store: Store) -> bool:
    """Stored as ok, and with a kept state when this run keeps states (--keep-states runs a
    cell stored without one again, since its trained tensors are gone)."""
    if not store.has_ok(spec.cell_id):
        return False
    return kept_in() is None or store.has_kept_state(spec.cell_id)


def _finish(
    spec: CellSpec,
    record: dict[str, Any],
    store: Store,
    command: str | None,
    extra: dict[str, dict[str, Any]] | None,
) -> None:
    """Stamp a cell's record with the command and plan extras, save it, release its claim."""
    try:
        if command:
            record.setdefault("env", {})["command"] = command
        record.update((extra or {}).get(spec.cell_id, {}))
        store.save(spec, record)
    finally:
        store.release(spec.cell_id)
