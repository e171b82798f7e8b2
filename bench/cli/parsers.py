"""Every command's parser builder, one per command (run's options in bench.cli.run_options).
Nothing here loads torch: `--help` and the parse answer at once."""

from __future__ import annotations

import argparse

from bench.cli import run_options
from bench.cli.common import (
    add_plugin_option,
    add_recipe_options,
    add_setting_option,
    add_store_options,
)
from bench.core.vocab import DPO_REFERENCES, PREFERENCE_OBJECTIVES

LISTABLE = ("methods", "tasks", "models", "suites", "gpus")


def add_report(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="regenerate the markdown reports from the store")
    report.add_argument("--suite", help="one suite (default: every suite with stored cells)")
    report.add_argument("--device", default=None, help="device the cells ran on (default: any)")
    add_store_options(report)


def add_predict(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser(
        "predict",
        help="published GPU measurements beside ftbench's predictions (writes predictions.md)",
    )
    predict.add_argument(
        "--references",
        default=None,
        help="a references file (default: the shipped bench/predict/references.toml)",
    )
    predict.add_argument("--only", help="comma-separated reference ids (default: every row)")
    predict.add_argument("--json", action="store_true", help="print the rows as JSON instead")
    predict.add_argument(
        "--fit",
        action="store_true",
        help="keep the time model's fit (bench/predict/efficiency.json) for estimate and plans",
    )
    add_store_options(predict)


def add_list(sub: argparse._SubParsersAction) -> None:
    lister = sub.add_parser("list", help="list methods, tasks, models or suites")
    lister.add_argument("what", nargs="?", default="methods", choices=LISTABLE)


def add_check(sub: argparse._SubParsersAction) -> None:
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
    check.add_argument(
        "--latency-budget",
        type=float,
        default=None,
        metavar="X",
        help="also require the method's served model (merged where it merges) at batch 1 "
        "within X times the base model's latency, timed side by side in each cell's inference "
        "stage (runs the cells with --inference; off by default)",
    )
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


def add_params(sub: argparse._SubParsersAction) -> None:
    params = sub.add_parser(
        "params", help="exact parameter counts on the meta device (no weights downloaded)"
    )
    params.add_argument(
        "--model",
        required=True,
        help="comma-separated shipped config names, config:PATH.json, minilm, ...",
    )
    params.add_argument("--method", required=True, help="comma-separated method names")
    add_setting_option(params, "a method setting (repeatable), e.g. --set r=16 --set targets=q,k,v")
    params.add_argument(
        "--task-kind", default="classification", choices=("classification", "generation")
    )
    params.add_argument("--labels", type=int, default=2, help="classes of the new head")


def add_estimate(sub: argparse._SubParsersAction) -> None:
    est = sub.add_parser(
        "estimate",
        help="predicted peak memory of a cell's training step, or of a GPU profile's matrix",
    )
    est.add_argument("--model", help="a shipped config name, config:NAME, minilm, ...")
    est.add_argument("--method", help="method name")
    add_setting_option(est, "a method setting (repeatable)")
    add_recipe_options(est, defaults=True)
    est.add_argument("--task", help="a task (its kind and labels); default: the model's kind")
    est.add_argument("--labels", type=int, default=2, help="classes of a classification head")
    est.add_argument(
        "--preference-objective",
        choices=PREFERENCE_OBJECTIVES,
        default="dpo",
        help="with a preference --task: dpo (default) or reward",
    )
    est.add_argument(
        "--dpo-reference",
        choices=DPO_REFERENCES,
        default="auto",
        help="with DPO: auto (the method switched off where it can be) or copy",
    )
    est.add_argument(
        "--gpu", help="a GPU profile: the verdict for one cell, or the profile's whole matrix"
    )
    est.add_argument("--json", action="store_true", help="print JSON")
    add_plugin_option(est, "methods")


def add_export_and_status(sub: argparse._SubParsersAction) -> None:
    export = sub.add_parser("export", help="every stored cell as one row: csv, jsonl, parquet")
    export.add_argument("--format", default="csv", choices=("csv", "jsonl", "parquet"))
    export.add_argument("--suite", help="only this suite's cells (default: every stored cell)")
    export.add_argument(
        "--output", help="file to write (default: ftbench-export.FORMAT beside the store)"
    )
    add_store_options(export, out=False)
    status = sub.add_parser("status", help="cells by status per suite, and the failed ones")
    add_store_options(status, out=False)


def add_time(sub: argparse._SubParsersAction) -> None:
    timing = sub.add_parser(
        "time",
        help="re-time a suite's configurations side by side (interleaved rounds) for speed ratios",
    )
    timing.add_argument("--suite", default="default", help="suite name (default: default)")
    timing.add_argument("--methods", help="comma-separated methods (default: the suite's)")
    timing.add_argument("--tasks", help="comma-separated tasks (default: the suite's)")
    timing.add_argument("--models", help="comma-separated models (default: the suite's)")
    timing.add_argument("--rounds", type=int, default=3, help="rounds A, B, C, ... (default 3)")
    timing.add_argument(
        "--steps", type=int, default=6, help="timed steps per window after 3 warm-up (default 6)"
    )
    timing.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    add_store_options(timing, out=False)


def add_judge(sub: argparse._SubParsersAction) -> None:
    judge = sub.add_parser(
        "judge",
        help="win rate of stored DPO policies' replies against their reference's, judged by "
        "stored reward models (needs their kept states: run --keep-states)",
    )
    judge.add_argument("--suite", default="preferences", help="suite (default: preferences)")
    judge.add_argument("--policies", help="comma-separated DPO cell ids (default: every one)")
    judge.add_argument(
        "--judges", help="comma-separated reward-model cell ids (default: every one kept)"
    )
    judge.add_argument(
        "--prompts", type=int, default=None, help="first N held-out prompts (default: all)"
    )
    judge.add_argument(
        "--max-new-tokens",
        type=int,
        default=None,
        help="reply length (default: the cell's, else the task's)",
    )
    judge.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    add_store_options(judge, out=False)


def add_run(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="train the cells of a suite that the store lacks")
    run_options.add_selection(run)
    run_options.add_budget(run)
    run_options.add_search(run)
    run_options.add_execution(run)
