"""`export` (every stored cell as one row) and `status` (cells by status, the failed ones)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.cli.common import open_existing
from bench.cli.listing import markdown
from bench.cli.report import suite_cell_ids, suite_cells
from bench.plan.suites import SUITES
from bench.store.cell_store import Store


def cmd_export(args: argparse.Namespace, console: Console, command: str) -> int:
    from bench.report.export import export_rows, write_export

    with open_existing(args.store) as store:
        ids = (
            suite_cell_ids(store, [args.suite])[SUITES.canonical(args.suite)]
            if args.suite
            else None
        )
        rows = export_rows(store, ids)
    output = Path(args.output or Path(args.store).parent / f"ftbench-export.{args.format}")
    write_export(rows, output, args.format)
    console.print(f"{len(rows)} cells written to {output}")
    return 0


def in_flight(store: Store, labels: dict[str, str]) -> list[tuple[str, str, str, bool, str]]:
    """Cells claimed now: id, owner, since, whether the owner lives, and the label the suites
    give it (`labels` by cell id; a narrowed run's cell may be in none)."""
    from bench.store.cell_store import owner_alive

    return [
        (
            c["cell_id"],
            c["owner"],
            c["since"],
            owner_alive(c["owner"]),
            labels.get(c["cell_id"], "(in no suite: a narrowed run's or a plugin's cell)"),
        )
        for c in store.claims()
    ]


def cmd_status(args: argparse.Namespace, console: Console, command: str) -> int:
    from bench.report.export import failed_cells, status_rows

    with open_existing(args.store) as store:
        by_suite = suite_cells(store, SUITES.names())
        ids = {name: [c.cell_id for c in cells] for name, cells in by_suite.items()}
        rows = status_rows(store, ids)
        failed = failed_cells(store)
        flight = in_flight(store, {c.cell_id: c.label() for v in by_suite.values() for c in v})
    if not rows and not flight:
        console.print(f"the store {args.store} holds no cell")
        return 0
    if rows:
        print(markdown(rows))
    if flight:
        print(f"\n{len(flight)} cell(s) in flight:")
        for cell_id, owner, since, alive, label in flight:
            state = "running" if alive else "owner gone: the next run takes it over"
            print(f"  {cell_id}  since {since}, {owner} ({state})  {label}")
    if failed:
        print(f"\n{len(failed)} failed cell(s):")
        for cell_id, status, label, error in failed:
            print(f"  {status:<9} {cell_id}  {label}: {error}")
    return 0
