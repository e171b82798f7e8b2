"""`time`: re-time a suite's configurations side by side (a timing pass) and print the speed
ratios against full fine-tuning with their spread, and each window's load."""

from __future__ import annotations

import argparse
import statistics

from rich.markup import escape

from bench.cli.common import csv_list, resolve_device
from bench.cli.listing import markdown
from bench.core.messages import LoggedConsole
from bench.plan.selection import Selection
from bench.plan.suites import SUITES
from bench.plan.validate import check_at_least, check_cells, check_device
from bench.report.labels import BASELINE


def cmd_time(args: argparse.Namespace, console: LoggedConsole, command: str) -> int:
    from bench.stats.configurations import budget_key, configuration_key
    from bench.store.cell_store import Store
    from bench.timing.interleaved import representatives, timing_pass
    from bench.timing.ratios import side_by_side

    check_at_least("--rounds", args.rounds, 2)
    check_at_least("--steps", args.steps, 2)
    selection = Selection(
        methods=csv_list(args.methods), tasks=csv_list(args.tasks), models=csv_list(args.models)
    )
    device = resolve_device(args.device)
    check_device(device)
    cells = selection.expand(SUITES.get(args.suite), device)
    check_cells(cells)
    configs = representatives(cells)
    console.print(
        f"timing pass over suite '{args.suite}': {len(configs)} configurations x {args.rounds} "
        f"rounds, interleaved, {args.steps} timed steps each (after 3 warm-up steps)"
    )
    with Store(args.store) as store:

        def keep(window) -> None:  # noqa: ANN001  (a Window)
            store.save_timing(window.to_row())
            flag = " CONTENDED" if window.load.contended else ""
            console.print(
                f"round {window.round + 1}/{args.rounds} {escape(window.spec.label())}: median "
                f"step {window.median_s * 1000:.0f} ms; others used "
                f"{window.load.others_share:.0%} of a core, steal {window.load.steal_share:.0%}"
                f"{flag}"
            )

        windows = timing_pass(configs, args.rounds, args.steps, on_window=keep)
        stored = [w for w in store.timings() if w["pass_id"] == windows[0].pass_id]
    rows = []
    for spec in configs:
        key = configuration_key(spec)
        base = next(
            (b for b in configs if b.method == BASELINE and budget_key(b) == budget_key(spec)),
            None,
        )
        medians = [w.median_s for w in windows if w.config == key]
        ratio = (
            side_by_side(stored, key, configuration_key(base))
            if base is not None and base is not spec
            else None
        )
        rows.append(
            {
                "configuration": spec.label().rsplit(" / seed", 1)[0],
                "median step ms (per round)": ", ".join(f"{m * 1000:.0f}" for m in medians),
                "median of rounds ms": f"{statistics.median(medians) * 1000:.0f}",
                f"x speed vs {BASELINE} (higher: faster)": (
                    ratio.text() if ratio else ("1.00 (the baseline)" if base is spec else "-")
                ),
            }
        )
    print(markdown(rows))
    contended = sum(w.load.contended for w in windows)
    print(
        f"\npass {windows[0].pass_id}: {len(windows)} windows stored in {args.store}, "
        f"{contended} contended (other processes above 10% of a core, or steal above 5%)"
    )
    return 0
