"""`export` (every stored cell as one row) and `status` (cells by status, the failed ones)."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from bench.cli.common import open_existing
from bench.cli.report import suite_cell_ids
from bench.plan.suites import SUITES


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


def cmd_status(args: argparse.Namespace, console: Console, command: str) -> int:
    from bench.report.export import failed_cells, status_frame

    with open_existing(args.store) as store:
        frame = status_frame(store, suite_cell_ids(store, SUITES.names()))
        failed = failed_cells(store)
    if frame.empty:
        console.print(f"the store {args.store} holds no cell")
        return 0
    print(frame.to_markdown(index=False))
    if failed:
        print(f"\n{len(failed)} failed cell(s):")
        for cell_id, status, label, error in failed:
            print(f"  {status:<9} {cell_id}  {label}: {error}")
    return 0
