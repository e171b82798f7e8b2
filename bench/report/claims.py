"""Published claims about fine-tuning methods against what this harness measured or counted."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from bench.core.status import Status
from bench.plan.meta_model import count_on_meta
from bench.stats.compare import method_level_difference, seed_pairs, with_variants
from bench.stats.method_level import noninferiority
from bench.store.cell_store import Store

GB = 1e9


@dataclass(frozen=True)
class Verdict:
    claim: str
    measured: str
    verdict: str
    basis: str


def _pairs_with_full(frame: pd.DataFrame, method: str) -> list[tuple[str, pd.DataFrame]]:
    """(task / model / device, rows of `method` and `full`) where both ran to the end."""
    ok = frame[frame["status"] == Status.OK]
    out = []
    for (task, model, device), group in ok.groupby(["task", "model", "device"], sort=True):
        if {method, "full"} <= set(group["method"]):
            out.append((f"{model} / {task} / {device}", group))
    return out


def _share_and_speed(
    frame: pd.DataFrame,
    methods: tuple[str, ...],
    share_claim: str,
    low: float,
    high: float,
    speed: float | None,
) -> list[Verdict]:
    """Trainable share of the method's own parameters (in [low, high] %) and the speed
    relative to full (at least `speed` x); one row each per stored task / model / device."""
    out = []
    groups = [(m, where, g) for m in methods for where, g in _pairs_with_full(frame, m)]
    name = share_claim.split(" train")[0]
    speed_claim = f"{name}: {speed:g}x the speed of full fine-tuning" if speed else ""
    if not groups:
        reason = "not measured yet: no stored cells of " + " / ".join(methods) + " next to full"
        hint = "run `python run_all.py run --suite methods`"
        return [Verdict(share_claim, "-", reason, hint)] + (
            [Verdict(speed_claim, "-", reason, hint)] if speed else []
        )
    for method, where, group in groups:
        mine = group[group["method"] == method]
        full = group[group["method"] == "full"]
        share = float(mine["method_params"].iloc[0] / mine["total_params"].iloc[0] * 100)
        ratio = float(full["step_time_s"].median() / mine["step_time_s"].median())
        out.append(
            Verdict(
                f"{share_claim} ({method})",
                f"{share:.4f}% on {where}",
                "holds" if low <= share <= high else "does not hold",
                "the method's own trainable parameters over all parameters (head excluded)",
            )
        )
        if speed is None:
            continue
        out.append(
            Verdict(
                f"{speed_claim} ({method})",
                f"{ratio:.2f}x on {where}",
                "holds" if ratio >= speed else "does not hold",
                "median steady-state step time of full over the method's, same budget",
            )
        )
    return out


def _weights_gb(model: str) -> tuple[float, float, int]:
    """fp32 and NF4 (double-quantised) weight bytes from exact counts; the 4-bit path keeps
    embeddings and the LM head in 16 bits, as bitsandbytes with transformers does."""
    total = count_on_meta(model, "full", task_kind="generation")["total_params"]
    linear = _linear_params(model)
    nf4_bits = 4 + 0.127  # QLoRA paper: double quantisation costs 0.127 bits per parameter
    nf4 = linear * nf4_bits / 8 + (total - linear) * 2
    return total * 4 / GB, nf4 / GB, total


def _linear_params(model: str) -> int:
    """Parameters of the linear layers that 4-bit quantisation replaces (not the LM head)."""
    import torch
    from transformers import AutoConfig

    from bench.models.sources import build_from_config
    from bench.plan.meta_model import config_for

    raw = config_for(model)
    config = AutoConfig.for_model(raw.pop("model_type"), **raw)
    with torch.device("meta"):
        net = build_from_config(config, "generation", 2)
    return sum(
        m.weight.numel()
        for n, m in net.named_modules()
        if isinstance(m, torch.nn.Linear) and not n.endswith("lm_head")
    )


def _qlora_claims() -> list[Verdict]:
    out = []
    for model, before, after in (
        ("Llama-2-7B", 28, 3.5),
        ("Llama-2-13B", 52, 6.5),
        ("Llama-2-70B", 350, 42),
    ):
        fp32, nf4, total = _weights_gb(model)
        close = abs(fp32 - before) / before <= 0.15 and abs(nf4 - after) / after <= 0.15
        out.append(
            Verdict(
                f"QLoRA takes a {model.split('-')[-1]} model from {before} GB to {after} GB",
                f"{model}: {total:,} parameters; weights {fp32:.1f} GB in fp32, {nf4:.2f} GB in "
                "NF4 with double quantisation",
                (
                    "holds within 15% (computed, weights only)"
                    if close
                    else "does not hold (computed, weights only)"
                ),
                "computed from exact counts on the meta device, not measured: needs a GPU",
            )
        )
    return out


def _full_7b_claim() -> Verdict:
    total = count_on_meta("Llama-2-7B", "full", task_kind="generation")["total_params"]
    return Verdict(
        "Full fine-tuning of a 7B model needs about 80 GB",
        f"{total:,} parameters: {total * 12 / GB:.0f} GB at 12 B/param (bf16 weights and "
        f"gradients, fp32 Adam states), {total * 16 / GB:.0f} GB at 16 B/param (plus an fp32 "
        "master copy); activations come on top",
        "not measurable here (no GPU): holds only for the 12 B/param recipe",
        "parameter arithmetic from exact counts",
    )


def _gpt2_xl_claim() -> Verdict:
    qv = count_on_meta("gpt2-xl", "lora", task_kind="generation")
    wide = count_on_meta("gpt2-xl", "lora", {"targets": "all-linear"}, task_kind="generation")
    base = count_on_meta("gpt2-xl", "full", task_kind="generation")["total_params"]
    return Verdict(
        "LoRA on gpt2-xl trains 8,192,000 of 1,558,432,768 parameters",
        f"r=8 on q,v: {qv['method_params']:,} of {qv['total_params']:,}; r=8 on all linear "
        f"layers: {wide['method_params']:,} of {wide['total_params']:,}; the base model has "
        f"{base:,}",
        "does not hold for these settings",
        "exact counts on the meta device",
    )


def _accuracy_claims(frame: pd.DataFrame, store: Store, margin: float) -> list[Verdict]:
    ok = frame[frame["status"] == Status.OK]
    out = []
    for (task, model, device), cells in ok.groupby(["task", "model", "device"], sort=True):
        group = with_variants(cells)
        for variant in sorted(set(group["variant"]) - {"full"}):
            seeds, _, _ = seed_pairs(group, variant, "full", by="variant")
            if len(seeds) < 2:
                continue
            difference = method_level_difference(store, group, variant, "full", by="variant")
            if difference is None:
                continue
            result = noninferiority(difference, margin)
            out.append(
                Verdict(
                    f"PEFT reaches full fine-tuning's accuracy ({variant})",
                    f"Δ {result.estimate:+.4f}, one-sided 95% lower bound {result.low:+.4f}, "
                    f"{len(seeds)} seeds, {model} / {task} / {device}",
                    "holds" if result.passed else "does not hold",
                    f"non-inferiority at margin {margin:g}: method-level bound (seed-to-seed "
                    "and test-set variance), paired by seed",
                )
            )
    if not out:
        out.append(
            Verdict(
                "PEFT reaches full fine-tuning's accuracy",
                "-",
                "not measured yet: needs 2+ seeds of a method next to full",
                "run `python run_all.py`",
            )
        )
    return out


def claims(frame: pd.DataFrame, store: Store, margin: float = 0.01) -> pd.DataFrame:
    """The claims table from stored cells (measured) and exact counts (computed)."""
    builders: list[Callable[[], list[Verdict]]] = [
        lambda: _share_and_speed(
            frame, ("lora",), "LoRA trains 0.1-0.5% of the parameters", 0.1, 0.5, 1.5
        ),
        lambda: _share_and_speed(
            frame, ("houlsby", "pfeiffer"), "Adapters train 1-3% of the parameters", 1, 3, 1.2
        ),
        lambda: _share_and_speed(
            frame,
            ("houlsby", "pfeiffer"),
            "Adapters train 0.3-0.7% of the parameters",
            0.3,
            0.7,
            None,
        ),
        lambda: _share_and_speed(
            frame,
            ("bitfit",),
            "BitFit trains about 0.01% (0.005-0.02%) of the parameters",
            0.005,
            0.02,
            3,
        ),
        lambda: _share_and_speed(
            frame,
            ("prompt_tuning",),
            "Prompt tuning trains under 0.01% of the parameters",
            0,
            0.01,
            5,
        ),
        lambda: _share_and_speed(
            frame, ("freeze",), "Freeze tuning trains 5-20% of the parameters", 5, 20, None
        ),
        _qlora_claims,
        lambda: [_full_7b_claim()],
        lambda: [_gpt2_xl_claim()],
        lambda: _accuracy_claims(frame, store, margin),
    ]
    rows = [v for build in builders for v in build()]
    return pd.DataFrame(
        [
            {"claim": v.claim, "measured": v.measured, "verdict": v.verdict, "basis": v.basis}
            for v in rows
        ]
    )


# What practitioners' guides say each family is for: the one column here that is not measured.
TYPICAL_USE = {
    "full": "enough memory and data; the reference",
    "selective": "cheap baselines; small data",
    "reparametrization": "the default PEFT choice; mergeable into the weights",
    "quantized": "large models on small GPUs",
    "rescaling": "fewest parameters among adapters; few-shot",
    "orthogonal": "keeping the pre-trained geometry (subject-driven tuning)",
    "adapter": "many tasks served from one frozen model",
    "soft-prompt": "many tasks in one batch; large models",
}


def method_matrix(frame: pd.DataFrame) -> pd.DataFrame:
    """method | family | trainable % | x speed | x memory | metric, measured per task x model;
    cells of one method at different learning rates or settings are separate rows."""
    from bench.core.registry import METHODS

    ok = frame[frame["status"] == Status.OK]
    rows = []
    for (task, model, device), cells in ok.groupby(["task", "model", "device"], sort=True):
        group = with_variants(cells)
        full = group[group["method"] == "full"]
        if full.empty:
            continue
        base_step = full["step_time_s"].median()
        base_mem = full["peak_mem_mib"].median()
        for variant, cells in group.groupby("variant", sort=False):
            method = cells["method"].iloc[0]
            family = METHODS.get(method).family if method in METHODS else "plugin"
            share = cells["method_params"].iloc[0] / cells["total_params"].iloc[0] * 100
            rows.append(
                {
                    "where": f"{model} / {task} / {device}",
                    "method": variant,
                    "family": family,
                    "trainable % (method)": f"{share:.4f}",
                    "x speed vs full": f"{base_step / cells['step_time_s'].median():.2f}",
                    "x memory vs full": f"{cells['peak_mem_mib'].median() / base_mem:.2f}",
                    f"{cells['metric_name'].iloc[0]}": f"{cells['metric'].mean():.4f}",
                    "seeds": len(cells),
                    "typical use (guides)": TYPICAL_USE.get(family, "-"),
                }
            )
    return pd.DataFrame(rows)
