"""The guides' claims about serving after training, against the serving cells (`--inference`)."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from bench.report.serving_table import compute_ratio, latency_ratio, round_ratios
from bench.report.verdict import Verdict

# Our bottleneck adapters and the guide's placements (004, 2.4): Pfeiffer's single adapter sits
# after the feed-forward output, Houlsby's adds one after the attention output.
PLACEMENTS = {
    "pfeiffer": ("after the feed-forward output", 1.2),
    "houlsby": ("after the attention and feed-forward outputs", 1.5),
}
ADAPTERS = tuple(PLACEMENTS)
HOW_TO_RUN = "run `python run_all.py run --suite serving`"


def serving_records(group: pd.DataFrame) -> list[dict[str, Any]]:
    """The serving records of one configuration's cells that measured without failing."""
    if "inference" not in group:
        return []
    return [r for r in group["inference"] if isinstance(r, dict) and "error" not in r]


def _configurations(frame: pd.DataFrame, methods: tuple[str, ...]) -> list[pd.DataFrame]:
    """The cells of each configuration of `methods` that measured serving."""
    if frame.empty or "inference" not in frame:
        return []
    mine = frame[frame["method_name"].isin(methods)]
    return [g for _, g in mine.groupby("config", sort=True) if serving_records(g)]


def _rounds_text(ratios: list[float]) -> str:
    slower = sum(r < 1 for r in ratios)
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
    return f"slower than the base in {slower} of {len(ratios)} rounds (base over it: {spread})"


def _sign_verdict(ratios: list[float]) -> str:
    """A latency difference is called only when every round agrees on its side (under no
    difference and independent rounds that happens 2 x 0.5^10 = 0.2% of the time with 10)."""
    if all(r < 1 for r in ratios):
        return "holds: slower than the base in every round"
    if all(r >= 1 for r in ratios):
        return "does not hold: as fast as the base or faster in every round"
    return "not detectable on this machine: the rounds fall on both sides of the base"


def _placement_claims(frame: pd.DataFrame) -> list[Verdict]:
    claim = "Adapters cost 1.2x compute after the feed-forward layer and 1.5x after attention"
    out = []
    for group in _configurations(frame, ADAPTERS):
        method, where = group["method_name"].iloc[0], group["where"].iloc[0]
        records = serving_records(group)
        ratio = compute_ratio(records)
        if ratio is None:
            continue
        placement, claimed = PLACEMENTS[method]
        share = float(group["method_params"].iloc[0] / group["total_params"].iloc[0] * 100)
        latency = latency_ratio([r["latency"] for r in records], "trained") or float("nan")
        close = abs(ratio - claimed) <= 0.1 * claimed
        out.append(
            Verdict(
                f"{claim} ({group['variant'].iloc[0]}: {placement}, claimed {claimed:g}x)",
                f"forward FLOPs x{ratio:.3f} of the base's at batch 1; {share:.2f}% of the "
                f"parameters; batch-1 latency x{1 / latency:.2f} of the base's, on {where}",
                "holds within 10% (counted)" if close else "does not hold (counted)",
                "FLOPs counted by torch's FlopCounterMode on one test example (matrix products "
                "and attention); the latency from the cell's own interleaved rounds",
            )
        )
    return out or [
        Verdict(claim, "-", "not measured yet: no serving cells of adapters", HOW_TO_RUN)
    ]


def _extra_time_claims(frame: pd.DataFrame) -> list[Verdict]:
    claim = "Adapters need extra inference time"
    out = []
    for group in _configurations(frame, ADAPTERS):
        records = serving_records(group)
        latency = [r["latency"] for r in records]
        ratios = round_ratios(latency, "trained", "base")
        if not ratios:
            continue
        flops = compute_ratio(records)
        counted = f"; forward FLOPs +{(flops - 1) * 100:.1f}% (counted)" if flops else ""
        out.append(
            Verdict(
                f"{claim} ({group['variant'].iloc[0]})",
                f"batch-1 latency x{1 / latency_ratio(latency, 'trained'):.2f} of the base's, "
                f"{_rounds_text(ratios)}{counted}, on {group['where'].iloc[0]}",
                _sign_verdict(ratios),
                "base and adapter model timed side by side in the cell's interleaved rounds "
                "(each round's median of 4 calls); a difference is called only when every round "
                "puts the adapter on the same side",
            )
        )
    return out or [
        Verdict(claim, "-", "not measured yet: no serving cells of adapters", HOW_TO_RUN)
    ]


def _lora_shipping_claims(frame: pd.DataFrame) -> list[Verdict]:
    claim = "LoRA deploys easily: its weights save and load apart from the base"
    out = []
    fulls = {g["budget"].iloc[0]: serving_records(g) for g in _configurations(frame, ("full",))}
    for group in _configurations(frame, ("lora",)):
        records = serving_records(group)
        shipped = statistics.median(r["shipped"]["bytes"] for r in records) / 1e6
        reloaded = [r["shipped"]["reloaded"] for r in records]
        flipped = sum(p["flipped"] for p in reloaded)
        worst = max(p["max_abs_logit_diff"] for p in reloaded)
        examples = sum(p["examples"] for p in reloaded)
        full = fulls.get(group["budget"].iloc[0])
        beside = ""
        if full:
            whole = statistics.median(r["shipped"]["bytes"] for r in full) / 1e6
            beside = f" (full fine-tuning ships {whole:.1f} MB)"
        load = statistics.median(r["shipped"]["load_s"] for r in records)
        out.append(
            Verdict(
                f"{claim} ({group['variant'].iloc[0]})",
                f"the adapter is {shipped:.2f} MB{beside}; a fresh base loaded with it in "
                f"{load:.2f} s changed {flipped} of {examples} test predictions (largest logit "
                f"change {worst:.1e}), on {group['where'].iloc[0]}",
                "holds" if flipped == 0 and worst <= 1e-4 else "does not hold",
                "peft save_pretrained, then PeftModel.from_pretrained over a freshly loaded base",
            )
        )
    return out or [Verdict(claim, "-", "not measured yet: no serving cells of LoRA", HOW_TO_RUN)]


def _onnx_claims(frame: pd.DataFrame) -> list[Verdict]:
    claim = "ONNX Runtime (TensorRT provider) makes inference 3-5x faster"
    out = []
    methods = tuple(sorted(set(frame["method_name"]))) if "method_name" in frame else ()
    by_where: dict[tuple[str, str], list[float]] = {}
    for group in _configurations(frame, methods):
        for record in serving_records(group):
            onnx = record.get("onnx") or {}
            if "provider" not in onnx:
                continue
            ratio = latency_ratio([record["latency"]], "onnx", "served")
            if ratio is not None:
                key = (group["where"].iloc[0], onnx["provider"].removesuffix("ExecutionProvider"))
                by_where.setdefault(key, []).append(ratio)
    for (where, provider), ratios in sorted(by_where.items()):
        measured = (
            f"{provider} provider: x{min(ratios):.2f}-{max(ratios):.2f} (median "
            f"x{statistics.median(ratios):.2f}) over PyTorch at batch 1, {len(ratios)} served "
            f"models, on {where}"
        )
        if provider == "Tensorrt":
            verdict = "holds" if 3 <= statistics.median(ratios) <= 5 else "does not hold"
        else:
            verdict = (
                "not checked as stated: the TensorRT provider needs an NVIDIA GPU with "
                f"TensorRT; measured with the {provider} provider instead"
            )
        out.append(
            Verdict(
                claim,
                measured,
                verdict,
                "the served model (merged where it merges) exported by torch.onnx, timed beside "
                "the same PyTorch model in the cell's interleaved rounds",
            )
        )
    return out or [
        Verdict(claim, "-", "not measured yet: no ONNX Runtime serving cells", HOW_TO_RUN)
    ]


def serving_claims(frame: pd.DataFrame) -> list[Verdict]:
    """Each serving claim's rows from the book's cells (one per configuration or place)."""
    return [
        *_placement_claims(frame),
        *_extra_time_claims(frame),
        *_lora_shipping_claims(frame),
        *_onnx_claims(frame),
    ]
