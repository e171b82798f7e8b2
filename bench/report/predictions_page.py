"""reports/predictions.md: every published reference row beside ftbench's memory prediction in
the counter the source used, the error, and what accelerate and LLaMA-Factory give instead."""

from __future__ import annotations

import pandas as pd

from bench.plan.estimate import ALLOCATOR_CACHE_FRACTION
from bench.predict.llama_factory import LLAMA_FACTORY_URL
from bench.predict.memory import GIB
from bench.predict.predictions import Predictions, RowPrediction, summary
from bench.predict.references import COUNTERS, Reference
from bench.predict.step_time import LAUNCH_S


def estimate_command(ref: Reference) -> str:
    """The `estimate` command that predicts the row on its own."""
    parts = [
        "python run_all.py estimate",
        f"--model {ref.model}",
        f"--method {ref.method}",
        f"--precision {ref.precision}",
        f"--optimizer {ref.optimizer}",
        f"--batch-size {ref.batch_size}",
        f"--max-length {ref.seq_len}",
        f"--gpu {ref.card}",
    ]
    if ref.grad_checkpointing:
        parts.append("--grad-checkpointing")
    if ref.optimizer_in_backward:
        parts.append("--optimizer-in-backward")
    if ref.loss_chunks:
        parts.append(f"--loss-chunks {ref.loss_chunks}")
    for key, value in ref.settings.items():
        shown = ",".join(value) if isinstance(value, tuple) else value
        parts.append(f"--set {key}={shown}")
    return " ".join(parts)


def _gib(value: float | None) -> str:
    return "—" if value is None else f"{value / GIB:.2f}"


def _against(value: int | None, measured: float) -> str:
    if value is None:
        return "no row"
    return f"{value / GIB:.1f} ({value / measured - 1:+.0%})"


def _step(ref: Reference) -> str:
    ckpt = ", checkpointing" if ref.grad_checkpointing else ""
    ckpt += ", step in backward" if ref.optimizer_in_backward else ""
    ckpt += f", loss in {ref.loss_chunks} chunks" if ref.loss_chunks else ""
    return f"{ref.batch_size} x {ref.seq_len}, {ref.precision}, {ref.optimizer}{ckpt}"


def _speed(p: RowPrediction) -> tuple[str, str, str, str, str]:
    """measured tok/s, predicted tok/s, error, MFU, J per token."""
    ref = p.reference
    measured = "—" if ref.tokens_per_s is None else f"{ref.tokens_per_s:,.0f}"
    if ref.time_seq_len:
        measured += f" (at {ref.time_seq_len} tokens)"
    if p.time is None:
        return measured, "—", "—", "—", "—"
    error = p.time_error
    return (
        measured,
        f"{p.time.tokens_per_s:,.0f}",
        "—" if error is None else f"{error:+.0%}",
        f"{p.time.mfu:.0%}",
        f"{p.time.energy_j_per_token:.3f}",
    )


def prediction_table(predictions: Predictions) -> pd.DataFrame:
    rows = []
    for p in predictions.rows:
        ref, memory = p.reference, p.memory
        measured, predicted, error, mfu, energy = _speed(p)
        rows.append(
            {
                "reference": f"[{ref.id}]({ref.url})",
                "role": ref.role,
                "card": ref.card,
                "model / method": f"{ref.model} / {ref.method}",
                "step (batch x tokens)": _step(ref),
                "counter": ref.counter,
                "measured GiB": f"{ref.memory_gib:.2f}",
                "ftbench GiB": _gib(memory.predicted_bytes)
                if memory.predicted_bytes
                else memory.unavailable,
                "memory error": "—" if memory.error is None else f"{memory.error:+.1%}",
                "peak during": memory.peak_phase or "—",
                "accelerate (Adam, full)": _against(memory.accelerate_bytes, memory.measured_bytes),
                "LLaMA-Factory": _against(memory.llama_factory_bytes, memory.measured_bytes),
                "measured tok/s": measured,
                "ftbench tok/s": predicted,
                "time error": error,
                "MFU": mfu,
                "J/token (at TDP)": energy,
                "not expressible in ftbench yet": "; ".join(ref.unmatched) or "—",
            }
        )
    return pd.DataFrame(rows)


def _summary_line(what: str, errors: list[float | None], total: int) -> str:
    stats = summary(errors)
    if not stats["rows"]:
        return f"- {what}: no row predicted."
    within = sum(
        1 for e in errors if e is not None and abs(e) <= (0.15 if "memory" in what else 0.30)
    )
    return (
        f"- {what}: {stats['rows']} of {total} rows; median |error| {stats['median']:.1%}, "
        f"worst {stats['worst']:.1%}; {within} within "
        f"{'15' if 'memory' in what else '30'}%."
    )


def predictions_page(predictions: Predictions, command: str, source: str) -> str:
    """The page: how to read it, the summaries and one row per reference."""
    rows = predictions.rows
    counters = "; ".join(f"`{name}`: {what}" for name, what in COUNTERS.items())
    eff = predictions.efficiency
    fitted = (
        f"matmul and attention at {eff.matmul:.0%} of the dense peak, memory traffic at "
        f"{eff.memory:.0%} of the bandwidth, fitted on {', '.join(predictions.fitted_on)}"
        if eff
        else "not fitted: no `fit` row publishes a throughput"
    )
    timed = [p for p in rows if p.reference.tokens_per_s is not None]
    lines = [
        "# Predicted against measured: published fine-tuning steps",
        "",
        f"- Command: `{command}`; references: `{source}` (add your own rows there: its header "
        "lists the fields).",
        "- Each row is a measurement another project published (linked, at the commit read), "
        "with the configuration that made it. `ftbench GiB` is `python run_all.py estimate` for "
        "that step (one training step traced on meta tensors, every sequence `tokens` long; the "
        "command for each row is listed below), converted to the counter the source used: "
        f"{counters}. Allocated and active are the traced peak; reserved adds "
        f"{ALLOCATOR_CACHE_FRACTION:.0%} for the allocator's cache (an uncalibrated lead); "
        "`memory error` is ftbench / measured - 1. No memory constant was fitted on these rows. "
        "A paged optimizer's states (bitsandbytes' paged 8-bit Adam) are CUDA unified memory, "
        "outside torch's allocator: in no torch counter, in `device` while on the card. A step "
        "in backward steps each parameter as its gradient arrives and frees the gradient; a "
        "loss in chunks upcasts the logits to fp32 one chunk of tokens at a time (both run in "
        "cells as well: `--optimizer-in-backward`, `--loss-chunks N`).",
        "- `ftbench tok/s`: the same traced step's FLOPs and bytes, op by op (torch's FLOP "
        "formulas; bytes are each op's inputs and outputs), binned by arithmetic intensity; each "
        "bin takes the longest of its FLOPs at the card's dense peak and its bytes at its memory "
        "bandwidth, each times an efficiency, and its kernels at "
        f"{LAUNCH_S * 1e6:.0f} µs each (a fixed launch floor). Efficiencies: {fitted}; every "
        "other row is held out. Throughput is predicted at the tokens per sequence the source "
        "measured it at. MFU: the step's FLOPs without the recomputed forward over step time x "
        "dense peak. J/token: the board's power limit (TDP) over the predicted step, an upper "
        "bound.",
        "- `accelerate (Adam, full)`: `accelerate estimate-memory`'s *Training using Adam* for "
        "the row's dtype (accelerate's own formula, `estimate_training_usage`, on the model's "
        "fp32 size): full fine-tuning at batch size 1 whatever the method, so it says nothing "
        "of a PEFT method or of activations. `LLaMA-Factory`: its README's *Hardware "
        f"Requirement* table ([estimated]({LLAMA_FACTORY_URL})), x GB per billion parameters "
        "of the base model by method and bits, GB read as 10^9 bytes; `no row` where the "
        "table has none for the method. Both in GiB with their error against the measurement.",
        "- Rows whose configuration ftbench cannot express yet say what is missing (last "
        "column); their errors include it.",
        "",
        "**Summary**",
        "",
        _summary_line("memory (every row held out)", [p.memory.error for p in rows], len(rows)),
        _summary_line(
            "throughput, rows fitted on",
            [p.time_error for p in timed if p.reference.role == "fit"],
            sum(1 for p in timed if p.reference.role == "fit"),
        ),
        _summary_line(
            "throughput, held-out rows",
            [p.time_error for p in timed if p.reference.role != "fit"],
            sum(1 for p in timed if p.reference.role != "fit"),
        ),
        "",
        prediction_table(predictions).to_markdown(index=False, disable_numparse=True),
        "",
        "## Each row's command",
        "",
    ]
    lines += [f"- `{p.reference.id}`: `{estimate_command(p.reference)}`" for p in rows]
    notes = [p for p in rows if p.reference.note]
    if notes:
        lines += ["", "## Notes on the rows", ""]
        lines += [f"- `{p.reference.id}`: {p.reference.note}" for p in notes]
    return "\n".join(lines) + "\n"
