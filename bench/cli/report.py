"""`report`: regenerate every suite's pages (and the tuned pages, the claims) from the store."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from bench.core.spec import CellSpec, SuiteSpec
from bench.plan.suites import SUITES, expand
from bench.store.cell_store import Store

StoredPlacement = tuple[str, str | None, str | None, bool]  # device, GPU profile, card, emulated


def suite_placements(
    store: Store, names: list[str], device: str | None = None
) -> Iterator[tuple[SuiteSpec, StoredPlacement, list[CellSpec]]]:
    """Each named suite at every place its stored cells ran (the device, and for GPU plans the
    profile and the card; only `device` when given), with the cells it expands to there."""
    from bench.plan.gpu_suites import GPU_SUITES

    placements: list[StoredPlacement] = sorted(
        {
            (r["spec"].device, r["spec"].gpu, r["spec"].card, r["spec"].emulate)
            for r in store.cells()
            if device is None or r["device"] == device
        },
        key=str,
    )
    for name in names:
        suite = SUITES.get(name)
        for place in placements:
            on, gpu, card, emulate = place
            if name in GPU_SUITES and not gpu:
                continue  # their CPU twins are other suites' cells (methods, tasks)
            yield suite, place, expand(suite, on, gpu=gpu, card=card, emulate=emulate)


def suite_cells(store: Store, names: list[str]) -> dict[str, list[CellSpec]]:
    """Each suite's cells at every placement the store holds."""
    out: dict[str, list[CellSpec]] = {SUITES.get(name).name: [] for name in names}
    for suite, _, cells in suite_placements(store, names):
        out[suite.name] += cells
    return out


def suite_cell_ids(store: Store, names: list[str]) -> dict[str, list[str]]:
    """Each suite's cell ids at every placement the store holds."""
    return {name: [c.cell_id for c in cells] for name, cells in suite_cells(store, names).items()}


def cmd_report(args: argparse.Namespace, console: Console, command: str) -> int:
    from bench.cli.gpu import report_stem
    from bench.report.comparison_book import ComparisonBook
    from bench.report.comparisons_page import comparisons_page
    from bench.report.suite_page import claims_report, suite_report, write_report
    from bench.report.tuned_page import tuned_report

    if not Path(args.store).exists():
        console.print(f"[red]no store at {args.store}[/red]: run `python run_all.py run` first")
        return 2
    names = [args.suite] if args.suite else SUITES.names()
    with Store(args.store, read_only=True) as store:
        book = ComparisonBook(store)  # each comparison tested once, for every page
        written = 0
        cpu_pages = []
        for suite, (device, gpu, card, emulate), cells in suite_placements(
            store, names, args.device
        ):
            if not store.cells([c.cell_id for c in cells]) and not args.suite:
                continue
            if gpu:
                stem = report_stem(suite.name, card, emulate, gpu)
            else:
                stem = suite.name if device == "cpu" else f"{suite.name}-{device.replace(':', '')}"
            text = suite_report(
                suite, cells, store, command, plots=(Path(args.out), stem), book=book
            )
            path = write_report(text, args.out, stem)
            console.print(f"wrote {path}")
            written += 1
            if device == "cpu" and not gpu:
                cpu_pages.append((stem, suite, cells))
                tuned = tuned_report(store, suite, command, plot=(Path(args.out), stem), book=book)
                if tuned is not None:
                    console.print(f"wrote {write_report(tuned, args.out, f'{stem}-tuned')}")
        if written:
            path = write_report(claims_report(store, command, book=book), args.out, "claims")
            console.print(f"wrote {path}")
            path = write_report(comparisons_page(book, command), args.out, "comparisons")
            console.print(f"wrote {path}")
        if cpu_pages and not args.suite:
            from bench.report.summary import summary_page

            summary = summary_page(store, cpu_pages, command, book=book)
            path = write_report(summary, args.out, "README")
            console.print(f"wrote {path}")
    if not written:
        console.print("no suite has stored cells in this store")
    if not args.suite:
        refresh_predictions(args.out, console, command)
    return 0


def refresh_predictions(
    out: str, console: Console, command: str, references: str | Path | None = None
) -> None:
    """predictions.md again from the shipped references, when every estimate it needs is on
    disk (`predict` makes them: minutes the first time, so `report` does not)."""
    import os

    from bench.predict.predictions import not_yet_estimated, predict_all
    from bench.predict.references import REFERENCES, load_references
    from bench.report.predictions_page import predictions_page
    from bench.report.suite_page import write_report

    references = references or REFERENCES
    refs = load_references(references)
    missing = not_yet_estimated(refs)
    if missing:
        console.print(
            f"predictions.md left as it is: {len(missing)} of {len(refs)} reference rows have "
            "no estimate on disk yet; `python run_all.py predict` makes them (minutes, once)"
        )
        return
    page = predictions_page(predict_all(refs), command, os.path.relpath(references))
    console.print(f"wrote {write_report(page, out, 'predictions')}")
