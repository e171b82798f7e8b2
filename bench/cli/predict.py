"""`python run_all.py predict`: every published reference row beside ftbench's prediction,
written to predictions.md (no training: meta-device steps, kept on disk after the first)."""

from __future__ import annotations

import argparse
import json

from rich.console import Console


def cmd_predict(args: argparse.Namespace, console: Console, command: str) -> int:
    import os

    from bench.predict.memory import GIB
    from bench.predict.predictions import predict_all
    from bench.predict.references import REFERENCES, load_references
    from bench.report.predictions_page import predictions_page
    from bench.report.suite_page import write_report

    args.references = args.references or os.path.relpath(REFERENCES)
    refs = load_references(args.references)
    if args.only:
        known = [r.id for r in refs]
        wanted = [x.strip() for x in args.only.split(",") if x.strip()]
        unknown = [x for x in wanted if x not in known]
        if unknown:
            raise ValueError(
                f"--only {', '.join(unknown)}: no such reference; ids: {', '.join(known)}"
            )
        refs = [r for r in refs if r.id in wanted]
    if not args.json:
        console.print(f"predicting {len(refs)} reference rows from {args.references}")
    predictions = predict_all(refs)
    if args.fit:
        from bench.predict.step_time import save_efficiency

        if predictions.efficiency is None:
            raise ValueError("--fit: no row with role 'fit' publishes a throughput")
        path = save_efficiency(predictions.efficiency, predictions.fitted_on, command)
        eff = predictions.efficiency
        console.print(
            f"kept the fit in {path}: matmul {eff.matmul:.0%} of the dense peak, memory "
            f"{eff.memory:.0%} of the bandwidth (rows: {', '.join(predictions.fitted_on)})"
        )
    if args.json:
        print(
            json.dumps(
                [
                    {
                        "id": p.reference.id,
                        "counter": p.reference.counter,
                        "measured_gib": p.reference.memory_gib,
                        "predicted_gib": None
                        if p.memory.predicted_bytes is None
                        else p.memory.predicted_bytes / GIB,
                        "memory_error": p.memory.error,
                        "peak_phase": p.memory.peak_phase,
                        "measured_tokens_per_s": p.reference.tokens_per_s,
                        "predicted_tokens_per_s": p.time.tokens_per_s if p.time else None,
                        "predicted_step_s": p.time.step_s if p.time else None,
                        "predicted_mfu": p.time.mfu if p.time else None,
                        "predicted_energy_j_per_token": p.time.energy_j_per_token
                        if p.time
                        else None,
                        "time_error": p.time_error,
                        "unavailable": p.memory.unavailable or None,
                    }
                    for p in predictions.rows
                ],
                indent=1,
            )
        )
        return 0
    path = write_report(
        predictions_page(predictions, command, str(args.references)), args.out, "predictions"
    )
    console.print(f"wrote {path}")
    return 0
