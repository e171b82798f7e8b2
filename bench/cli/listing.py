"""`list`: the methods, tasks, models, suites or GPU profiles as a table."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console

from bench.core.registry import METHODS, MODELS, TASKS


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


def list_rows(what: str) -> list[dict[str, Any]]:
    """The registry `what` as table rows."""
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
        import bench.models.sources  # noqa: F401  (the model sources register on import)

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
        from bench.plan.suites import SUITES

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
    return rows


def gpu_rows() -> list[dict[str, Any]]:
    """`list gpus`: every profile with its figures and their source."""
    from bench.hardware.gpus import GPUS

    gib = 2**30
    return [
        {
            "name": name,
            "card": g.title,
            "memory GiB": f"{g.memory_bytes / gib:.1f}",
            "bf16 TFLOP/s": f"{g.bf16_tflops:g}" if g.bf16 else "no bf16",
            "fp16": f"{g.fp16_tflops:g}",
            "tf32": f"{g.tf32_tflops:g}" if g.tf32_tflops else "—",
            "fp32": f"{g.fp32_tflops:g}",
            "GB/s": f"{g.bandwidth_gbs:g}",
            "TDP W": f"{g.tdp_w:g}",
            "aliases": ", ".join(g.aliases) or "-",
            "source": g.source,
        }
        for name, g in GPUS.items()
    ]


def markdown(rows: list[dict[str, Any]]) -> str:
    """Rows as a markdown table (tabulate's pipe format, as pandas' to_markdown prints it)."""
    from tabulate import tabulate

    return tabulate(rows, headers="keys", tablefmt="pipe", disable_numparse=True)


def cmd_list(args: argparse.Namespace, console: Console, command: str) -> int:
    if args.what == "gpus":
        rows = gpu_rows()
        print(markdown(rows))
        print(
            f"\n{len(rows)} GPU profiles: dense peaks (no 2:4 sparsity) from each card's data "
            "sheet; memory as NVML reports it. `--gpu cpu` is not a profile: without --gpu a "
            "run uses this machine's CPU (or its GPU with --device cuda)."
        )
        return 0
    rows = list_rows(args.what)
    print(markdown(rows))
    print(f"\n{len(rows)} {args.what}")
    return 0
