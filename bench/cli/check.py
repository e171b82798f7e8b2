"""`check`: the regression gate (exit 0 when a method is non-inferior to the baselines)."""

from __future__ import annotations

import argparse

from rich.console import Console

from bench.cli.common import add_plugin_option, add_store_options, csv_list, resolve_device
from bench.core.plugins import load_plugin_file
from bench.plan.validate import check_at_least, check_device
from bench.store.cell_store import Store


def add_parser(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser(
        "check", help="regression gate: exit 0 if a method is non-inferior to the baselines"
    )
    check.add_argument("--method", required=True, help="the method under test")
    add_plugin_option(check, "the method")
    check.add_argument("--baselines", default="lora,full", help="comma-separated baselines")
    check.add_argument(
        "--margin",
        type=float,
        default=0.01,
        help="largest tolerated drop of the primary metric (default 0.01)",
    )
    check.add_argument("--suite", default="smoke", help="suite whose cells decide (default smoke)")
    check.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    check.add_argument(
        "--fresh",
        action="store_true",
        help="retrain the method's cells even if stored (after editing a plugin)",
    )
    check.add_argument(
        "--in-process",
        action="store_true",
        help="run cells in this process (debugging; no crash isolation)",
    )
    add_store_options(check, out=False)


def cmd_check(args: argparse.Namespace, console: Console, command: str) -> int:
    from bench.report.gate import run_check

    for path in args.plugin:
        load_plugin_file(path)
    baselines = list(csv_list(args.baselines) or [])
    check_at_least("--margin", args.margin, 0)
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
        )
