"""`params`: exact parameter counts on the meta device (no weights downloaded)."""

from __future__ import annotations

import argparse

import pandas as pd
from rich.console import Console

from bench.cli.common import csv_list, parse_setting
from bench.core.registry import METHODS


def cmd_params(args: argparse.Namespace, console: Console, command: str) -> int:
    from bench.plan.meta_model import config_name, count_on_meta

    settings = dict(parse_setting(t) for t in args.set)
    rows = []
    for model in csv_list(args.model) or []:
        for method in csv_list(args.method) or []:
            model, method = config_name(model), METHODS.canonical(method)
            counts = count_on_meta(model, method, settings, args.task_kind, args.labels)
            rows.append(
                {
                    "model": model,
                    "method": method,
                    "method params": f"{counts['method_params']:,}",
                    "head params": f"{counts['head_params']:,}",
                    "trainable": f"{counts['trainable_params']:,}",
                    "total": f"{counts['total_params']:,}",
                    "trainable %": f"{counts['trainable_pct']:.4f}",
                    "method %": f"{counts['method_pct']:.4f}",
                }
            )
    print(pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True))
    print(
        f"\ncounted on the meta device from configs; task kind {args.task_kind}"
        + (f", {args.labels} labels" if args.task_kind == "classification" else "")
    )
    return 0
