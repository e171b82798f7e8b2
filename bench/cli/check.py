"""`check`: the regression gate (exit 0 when a method is non-inferior to the baselines)."""

from __future__ import annotations

import argparse

from rich.console import Console

from bench.cli.common import csv_list, resolve_device
from bench.core.plugins import load_plugin_file
from bench.plan.validate import check_at_least, check_device
from bench.store.cell_store import Store


def cmd_check(args: argparse.Namespace, console: Console, command: str) -> int:
    from bench.report.gate import run_check

    for path in args.plugin:
        load_plugin_file(path)
    baselines = list(csv_list(args.baselines) or [])
    check_at_least("--margin", args.margin, 0)
    check_at_least("--latency-budget", args.latency_budget, 0, strict=True)
    check_device(resolve_device(args.device))
    if not baselines:
        raise ValueError("--baselines names no method")
    with Store(args.store) as store:
        return run_check(
            args.method,
            baselines,
            args.margin,
            args.suite,
            store,
            plugins=args.plugin,
            device=resolve_device(args.device),
            fresh=args.fresh,
            in_process=args.in_process,
            console=console,
            command=command,
            latency_budget=args.latency_budget,
        )
