"""`list`: the methods, tasks, models, suites or GPU profiles as a table."""

from __future__ import annotations

import argparse

import pandas as pd
from rich.console import Console

from bench.core.registry import METHODS, MODELS, TASKS
from bench.plan.suites import SUITES

LISTABLE = ("methods", "tasks", "models", "suites", "gpus")


def add_parser(sub: argparse._SubParsersAction) -> None:
    lister = sub.add_parser("list", help="list methods, tasks, models or suites")
    lister.add_argument("what", nargs="?", default="methods", choices=LISTABLE)


def _labels_cell(labels: tuple[str, ...], kind: str) -> str:
    if kind == "regression":
        return "(a score)"
    if kind == "generation":
        return f"(text; strata: {', '.join(labels[:3])}{', ...' if len(labels) > 3 else ''})"
    shown = ", ".join(labels[:4]) + (", ..." if len(labels) > 4 else "")
    return f"{len(labels)}: {shown}"


def _searched(method: str) -> str:
    found = METHODS.get(method).search
    return f"{found[0]} in {', '.join(map(str, found[1]))}" if found else "-"


def list_frame(what: str) -> pd.DataFrame:
    """The registry `what` as a table."""
    if what == "methods":
        rows = [
            {
                "name": n,
                "family": m.family,
                "settings (defaults)": ", ".join(f"{k}={v}" for k, v in m.defaults.items()) or "-",
                "lr": f"{m.lr:g}",
                "searched (--search-key)": _searched(n),
                "models": ", ".join(m.supports),
                "quantized base": "yes" if m.needs_quantized_base else "no",
                "description": m.description,
            }
            for n, m in METHODS.items()
        ]
    elif what == "tasks":
        rows = [
            {
                "name": n,
                "kind": t.kind,
                "size": f"{t.size:,}" if t.size else "?",
                "labels": _labels_cell(t.labels, t.kind),
                "metric": t.metric,
                "other metrics": ", ".join(m for m in t.metrics if m != t.metric) or "-",
                "offline": "yes" if t.offline else "no (hub)",
                "source": t.source,
            }
            for n, t in TASKS.items()
        ]
    elif what == "models":
        rows = [
            {"name": n, "source": m.source, "kind": m.kind, "description": m.description}
            for n, m in MODELS.items()
        ]
        rows.append(
            {
                "name": "config:NAME | config:PATH.json",
                "source": "config",
                "kind": "from the config",
                "description": "real architecture, random weights",
            }
        )
        rows.append(
            {
                "name": "hub:ID",
                "source": "hub",
                "kind": "from the config",
                "description": "a Hugging Face model (needs internet)",
            }
        )
    else:
        rows = [
            {
                "name": n,
                "models": ", ".join(s.models),
                "tasks": ", ".join(s.tasks),
                "methods": ", ".join(m.name for m in s.methods),
                "seeds": len(s.seeds),
                "budget": ", ".join(f"{k}={v}" for k, v in s.budget.items()),
            }
            for n, s in SUITES.items()
        ]
    return pd.DataFrame(rows)


def cmd_list(args: argparse.Namespace, console: Console, command: str) -> int:
    if args.what == "gpus":
        from bench.cli.plan_tables import gpus_frame

        frame = gpus_frame()
        print(frame.to_markdown(index=False, disable_numparse=True))
        print(
            f"\n{len(frame)} GPU profiles: dense peaks (no 2:4 sparsity) from each card's data "
            "sheet; memory as NVML reports it. `--gpu cpu` is not a profile: without --gpu a "
            "run uses this machine's CPU (or its GPU with --device cuda)."
        )
        return 0
    frame = list_frame(args.what)
    print(frame.to_markdown(index=False, disable_numparse=True))
    print(f"\n{len(frame)} {args.what}")
    return 0
