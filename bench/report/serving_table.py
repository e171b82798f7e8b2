"""The serving table of a suite page: what each method ships, whether it reloads and merges to
the same outputs, and its latency against the base model timed side by side in the cell."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

MB = 1e6

SERVING_NOTE = (
    "Serving (cells run with `--inference`, after their evaluation, on the test part): "
    "`shipped MB` is what a task needs beside the base model (a peft adapter's "
    "`save_pretrained` with any trained head; else the trained tensors, whole, and the buffers "
    "of their modules that a fresh start could not recompute, such as a sparse delta's "
    "positions), `reload` the "
    "examples whose predicted class changed when a fresh base loaded it back, and its largest "
    "logit difference, and `load s` the time to load a fresh base and that state; `merge` the "
    "same for the merged model (peft `merge_and_unload`; a sparse delta written into the "
    "weights; else why nothing merges). `compute x base`: the forward pass's FLOPs on one "
    "example over the base model's, counted by torch's FlopCounterMode (matrix products and "
    "attention: what a prompt's extra tokens or an adapter's layers add, free of timing "
    "noise). `many tasks`: 4 copies of the cell's adapter loaded on one base under their own "
    "names (peft `load_adapter`; copies cost what 4 tasks' adapters cost) against 4 separate "
    "models (merged where they merge): their parameter bytes, batch-1 latency when every "
    "request switches adapter (`set_adapter`) and batch-32 throughput when one batch mixes "
    "the tasks (peft's `adapter_names`, checked first on a batch alternating base and task "
    "rows: a tuner that ignores it is said, not timed), both against the one-task model in "
    "the same rounds. Latency: one example at a time, median and 95th percentile over "
    "40 calls in 10 rounds; throughput at a batch of 32. `x vs base` is the base model's median "
    "latency over the method's, both timed side by side in the cell's own interleaved rounds "
    "(higher: faster; the base is the pretrained model without the method), with the lowest "
    "and highest round's ratio in brackets: a method whose layers are the base's (BitFit, "
    "full) shows there how far the machine's noise reaches; milliseconds of different "
    "rows come from different cells, possibly hours apart. ONNX Runtime: the served model (the "
    "merged one where it merges) exported by torch.onnx and run by ONNX Runtime on the named "
    "provider, its speed against that PyTorch model in the same rounds and its agreement with "
    "PyTorch's logits; int8: ONNX Runtime's dynamic quantisation of the weights, its speed, "
    "test accuracy change against PyTorch's and flipped predictions. Medians over seeds; "
    "`contended`: other processes or the hypervisor took time during some seed's rounds."
)


def _median(values: list[float]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def _agreement(parts: list[dict[str, Any]]) -> str:
    """Flipped predictions over every seed and the largest logit difference."""
    if not parts:
        return "—"
    flipped = sum(p["flipped"] for p in parts)
    examples = sum(p["examples"] for p in parts)
    worst = max(p["max_abs_logit_diff"] for p in parts)
    return f"{flipped} of {examples} flipped, largest logit change {worst:.1e}"


def _latency(latency: list[dict[str, Any]], variant: str, key: str) -> float | None:
    """The median over seeds of one variant's figure."""
    return _median([t[variant][key] for t in latency if variant in t])


def served_variant(latency: dict[str, Any]) -> str:
    """The model a cell serves: the merged one where the method merges, else the trained one."""
    return "merged" if "merged" in latency else "trained"


def latency_ratio(
    latency: list[dict[str, Any]], variant: str, reference: str = "base"
) -> float | None:
    """The median over seeds of the reference's batch-1 latency over the variant's (timed in
    the same rounds; higher: the variant is faster)."""
    ratios = []
    for t in latency:
        ref = reference if reference != "served" else served_variant(t)
        if variant in t and ref in t:
            ratios.append(t[ref]["latency_b1_median_ms"] / t[variant]["latency_b1_median_ms"])
    return _median(ratios)


def round_ratios(latency: list[dict[str, Any]], variant: str, reference: str) -> list[float]:
    """Every round's ratio, reference's median batch-1 latency over the variant's in the same
    round, over seeds (higher: the variant is faster)."""
    return [
        a / b
        for t in latency
        if variant in t and reference in t and "rounds_b1_median_ms" in t[variant]
        for a, b in zip(
            t[reference]["rounds_b1_median_ms"], t[variant]["rounds_b1_median_ms"], strict=True
        )
    ]


def _round_spread(latency: list[dict[str, Any]], variant: str, reference: str) -> str:
    """The lowest and highest round's ratio (reference over variant, same round), over seeds."""
    ratios = round_ratios(latency, variant, reference)
    return f" [{min(ratios):.2f}-{max(ratios):.2f}]" if ratios else ""


def _onnx_columns(records: list[dict[str, Any]], latency: list[dict[str, Any]]) -> dict[str, str]:
    """ONNX Runtime's agreement and speed against the served PyTorch model, and int8's."""
    runs = [r.get("onnx") or {} for r in records]
    failed = [o["error"] for o in runs if "error" in o]
    runs = [o for o in runs if "onnx" in o]
    if not runs:
        reason = f"failed: {failed[0]}" if failed else "—"
        return {"ONNX Runtime": reason, "int8": "—"}
    provider = runs[0]["provider"].removesuffix("ExecutionProvider")
    fp32 = _agreement([o["onnx"] for o in runs])
    speed = _fmt(latency_ratio(latency, "onnx", "served"), ".2f")
    change = _median(
        [
            o["onnx int8"].get("accuracy", 0) - o["pytorch_accuracy"]
            for o in runs
            if "pytorch_accuracy" in o
        ]
    )
    int8_speed = _fmt(latency_ratio(latency, "onnx int8", "served"), ".2f")
    int8_flips = sum(o["onnx int8"]["flipped"] for o in runs)
    return {
        "ONNX Runtime": f"{provider}: x{speed} vs PyTorch; {fp32}",
        "int8": (
            f"x{int8_speed} vs PyTorch; Δ accuracy {_fmt(change, '+.4f')}, {int8_flips} flipped"
        ),
    }


def compute_ratio(records: list[dict[str, Any]]) -> float | None:
    """The median over seeds of the method's counted forward FLOPs at batch 1 over the base's
    (the same example); None where no record counted them."""
    return _median(
        [
            r["flops_b1"]["trained"] / r["flops_b1"]["base"]
            for r in records
            if r.get("flops_b1", {}).get("base")
        ]
    )


def _many_tasks(records: list[dict[str, Any]], latency: list[dict[str, Any]]) -> str:
    """N tasks from one base against N separate models: bytes, and the cost of switching per
    request and of mixing tasks in one batch against one task's model (same rounds)."""
    runs = [r["many_tasks"] for r in records if "many_tasks" in r]
    if not runs:
        return "—"
    first = runs[0]
    if "error" in first:
        return f"failed: {first['error']}"
    tasks = first["tasks"]
    separate = f"{tasks} separate models {_median([r['bytes_separate'] / MB for r in runs]):.1f} MB"
    if "bytes_one_base" not in first:
        return f"{separate} ({first['how'].removeprefix('none: ')})"
    shared = _median([r["bytes_one_base"] / MB for r in runs])
    switching = _fmt(latency_ratio(latency, "switching", "trained"), ".2f")
    mixed = first.get("mixed", {})
    if mixed.get("supported"):
        per_s = [
            t["mixed batch"]["throughput_per_s"] / t["trained"]["throughput_per_s"]
            for t in latency
            if "mixed batch" in t
        ]
        mixing = f"a batch mixing the {tasks} tasks x{_fmt(_median(per_s), '.2f')} throughput"
    else:
        mixing = f"no mixed batches ({mixed.get('why', '—')})"
    return (
        f"{tasks} on one base {shared:.1f} MB vs {separate}; switching per request "
        f"x{switching} b1 latency; {mixing} (vs one task's model)"
    )


def serving_rows(ok: pd.DataFrame) -> pd.DataFrame | None:
    """One row per method of the cells that measured serving; None when none did."""
    if "inference" not in ok:
        return None
    rows = []
    for method, group in ok.groupby("method", sort=False):
        records = [r for r in group["inference"] if isinstance(r, dict)]
        if not records:
            continue
        failed = [r["error"] for r in records if "error" in r]
        records = [r for r in records if "error" not in r]
        if not records:
            rows.append({"method": method, "shipped MB": f"failed: {failed[0]}"})
            continue
        latency = [r["latency"] for r in records]
        merges = [r["merge"] for r in records]
        merged = [m for m in merges if m.get("merged")]

        rows.append(
            {
                "method": method,
                "shipped MB": _fmt(_median([r["shipped"]["bytes"] / MB for r in records]), ".3f"),
                "what ships": records[0]["shipped"]["what"],
                "reload": _agreement([r["shipped"]["reloaded"] for r in records]),
                "merge": _agreement(merged) if merged else merges[0]["how"],
                "latency b1 ms (median / p95)": (
                    f"{_fmt(_latency(latency, 'trained', 'latency_b1_median_ms'), '.2f')} / "
                    f"{_fmt(_latency(latency, 'trained', 'latency_b1_p95_ms'), '.2f')}"
                ),
                "x vs base": _fmt(latency_ratio(latency, "trained"), ".2f")
                + _round_spread(latency, "trained", "base"),
                "merged x vs base": (
                    _fmt(latency_ratio(latency, "merged"), ".2f")
                    + _round_spread(latency, "merged", "base")
                    if merged
                    else "—"
                ),
                "compute x base (FLOPs b1)": _fmt(compute_ratio(records), ".3f"),
                "throughput /s (b32)": _fmt(
                    _latency(latency, "trained", "throughput_per_s"), ",.0f"
                ),
                "base b1 ms": _fmt(_latency(latency, "base", "latency_b1_median_ms"), ".2f"),
                "load s": _fmt(_median([r["shipped"].get("load_s") for r in records]), ".2f"),
                "many tasks": _many_tasks(records, latency),
                **_onnx_columns(records, latency),
                "seeds": len(records),
                "contended": "yes" if any(t["load"]["contended"] for t in latency) else "no",
            }
        )
    return pd.DataFrame(rows) if rows else None


def serving_section(ok: pd.DataFrame) -> list[str]:
    """The markdown lines of the serving table and its note (none without serving records)."""
    table = serving_rows(ok)
    if table is None:
        return []
    return [
        "Serving:",
        "",
        table.to_markdown(index=False, disable_numparse=True),
        "",
        SERVING_NOTE,
        "",
    ]
