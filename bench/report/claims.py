"""Published claims about fine-tuning methods against what this harness measured or counted."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from bench.plan.meta_model import count_on_meta
from bench.report.comparison_book import ComparisonBook
from bench.report.distill_table import distillation_claims
from bench.report.failures import failure_notes
from bench.report.placement_claims import placement_claims
from bench.report.serving_claims import serving_claims
from bench.report.verdict import Verdict
from bench.stats.collapse import collapse_note
from bench.stats.method_level import noninferiority
from bench.timing.ratios import side_by_side

GB = 1e9


def _share_and_speed(
    book: ComparisonBook,
    methods: tuple[str, ...],
    share_claim: str,
    low: float,
    high: float,
    speed: float | None,
    timings: list[dict] | None = None,
) -> list[Verdict]:
    """Trainable share of the method's own parameters (in [low, high] %) and the speed
    relative to full (at least `speed` x); one row each per stored task / model / device."""
    out = []
    pairs = book.pairs_with_full(methods)
    name = share_claim.split(" train")[0]
    speed_claim = f"{name}: {speed:g}x the speed of full fine-tuning" if speed else ""
    if not pairs:
        reason = "not measured yet: no stored cells of " + " / ".join(methods) + " next to full"
        hint = "run `python run_all.py run --suite methods`"
        return [Verdict(share_claim, "-", reason, hint)] + (
            [Verdict(speed_claim, "-", reason, hint)] if speed else []
        )
    shares = {}
    for where, mine, full in pairs:
        variant = mine["variant"].iloc[0]
        share = float(mine["method_params"].iloc[0] / mine["total_params"].iloc[0] * 100)
        if (variant, where) not in shares:  # the share does not depend on the full cells
            shares[(variant, where)] = share
            out.append(
                Verdict(
                    f"{share_claim} ({variant})",
                    f"{share:.4f}% on {where}",
                    "holds" if low <= share <= high else "does not hold",
                    "the method's own trainable parameters over all parameters (head excluded)",
                )
            )
        if speed is None:
            continue
        paired = side_by_side(timings or [], mine["config"].iloc[0], full["config"].iloc[0])
        if paired is not None and paired.rounds:
            measured = f"{paired.text()} on {where}"
            verdict = (
                "holds"
                if paired.low >= speed
                else (
                    "does not hold" if paired.high < speed else "undecided: the rounds straddle it"
                )
            )
            basis = "median step time of full over the method's, re-timed side by side"
        else:
            ratio = float(full["step_time_s"].median() / mine["step_time_s"].median())
            measured = f"{ratio:.2f}x on {where} ({len(mine)} and {len(full)} cells)"
            verdict = "holds" if ratio >= speed else "does not hold"
            basis = (
                "median steady-state step time of full over the method's, same budget; "
                "timings taken in separate runs, not side by side"
            )
        out.append(
            Verdict(
                f"{speed_claim} ({variant} vs {full['variant'].iloc[0]})", measured, verdict, basis
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


def _accuracy_claims(book: ComparisonBook, margin: float) -> list[Verdict]:
    """Non-inferiority of each configuration to each of full's at its budget, from the same
    method-level result that every page and comparisons.md show for that pair."""
    methods = tuple(sorted(set(book.frame["method"]) - {"full"})) if len(book.frame) else ()
    out = []
    for where, mine, full in book.pairs_with_full(methods):
        variant, baseline = mine["variant"].iloc[0], full["variant"].iloc[0]
        label = f"PEFT reaches full fine-tuning's accuracy ({variant} vs {baseline})"
        collapsed = [note for note in map(collapse_note, (mine, full)) if note]
        if collapsed:
            out.append(
                Verdict(
                    label,
                    f"{'; '.join(collapsed)}, {where}",
                    "does not hold: collapsed seeds are failures, not noise",
                    "a seed that predicts one class for every test example",
                )
            )
            continue
        tested = book.get(mine["config"].iloc[0], full["config"].iloc[0])
        if tested is None or not tested.testable:
            continue  # fewer than 2 seeds in common, or a metric not recomputable
        result = noninferiority(tested.result, margin)  # type: ignore[arg-type]
        out.append(
            Verdict(
                label,
                f"Δ {result.estimate:+.4f}, one-sided 95% lower bound {result.low:+.4f}, "
                f"{tested.result.seeds} seeds, {where}",  # type: ignore[union-attr]
                "holds" if result.passed else "does not hold",
                f"non-inferiority at margin {margin:g}: method-level bound (seed-to-seed "
                "and test-set variance), paired by seed; one test per row, not corrected",
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


def claims(book: ComparisonBook, margin: float = 0.01) -> pd.DataFrame:
    """The claims table from the book's cells (measured) and exact counts (computed)."""
    timings = book.store.timings()
    builders: list[Callable[[], list[Verdict]]] = [
        lambda: _share_and_speed(
            book, ("lora",), "LoRA trains 0.1-0.5% of the parameters", 0.1, 0.5, 1.5, timings
        ),
        lambda: _share_and_speed(
            book,
            ("houlsby", "pfeiffer"),
            "Adapters train 1-3% of the parameters",
            1,
            3,
            1.2,
            timings,
        ),
        lambda: _share_and_speed(
            book,
            ("houlsby", "pfeiffer"),
            "Adapters train 0.3-0.7% of the parameters",
            0.3,
            0.7,
            None,
        ),
        lambda: _share_and_speed(
            book,
            ("bitfit",),
            "BitFit trains about 0.01% (0.005-0.02%) of the parameters",
            0.005,
            0.02,
            3,
            timings,
        ),
        lambda: _share_and_speed(
            book,
            ("prompt_tuning",),
            "Prompt tuning trains under 0.01% of the parameters",
            0,
            0.01,
            5,
            timings,
        ),
        lambda: _share_and_speed(
            book, ("freeze",), "Freeze tuning trains 5-20% of the parameters", 5, 20, None
        ),
        _qlora_claims,
        lambda: [_full_7b_claim()],
        lambda: [_gpt2_xl_claim()],
        lambda: _accuracy_claims(book, margin),
        lambda: serving_claims(book.frame),
        lambda: distillation_claims(book.frame, book.store),
        lambda: placement_claims(book.frame, timings),
    ]
    rows = [v for build in builders for v in build()]
    return pd.DataFrame(
        [
            {
                "claim": v.claim,
                "guide": v.source,
                "measured": v.measured,
                "verdict": v.verdict,
                "basis": v.basis,
            }
            for v in rows
        ]
    )


def _matrix_speed(
    cells: pd.DataFrame, full: pd.DataFrame, base_step: float, timings: list[dict] | None
) -> str:
    """Side by side from a timing pass where one timed both, else the cells' own (marked)."""
    if cells["config"].iloc[0] == full["config"].iloc[0]:
        return "1.00"
    paired = side_by_side(timings or [], cells["config"].iloc[0], full["config"].iloc[0])
    if paired is not None and paired.rounds:
        return paired.text()
    return f"{base_step / cells['step_time_s'].median():.2f} (separate runs)"


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


def method_matrix(book: ComparisonBook, timings: list[dict] | None = None) -> pd.DataFrame:
    """method | family | trainable % | x speed | x memory | metric, measured per budget (model,
    task, device, data and recipe): one row per configuration, against the full fine-tuning
    configuration of that budget with the most seeds (named in the row)."""
    from bench.core.registry import METHODS

    rows: list[dict] = []
    if book.frame.empty:
        return pd.DataFrame(rows)
    for _, group in book.frame.groupby("budget", sort=True):
        fulls = [g for _, g in group[group["method"] == "full"].groupby("config", sort=True)]
        if not fulls:
            continue
        full = max(fulls, key=len)
        base_step, base_mem = full["step_time_s"].median(), full["train_mem_mib"].median()
        for _, cells in group.groupby("config", sort=False):
            method = cells["method"].iloc[0]
            family = METHODS.get(method).family if method in METHODS else "plugin"
            share = cells["method_params"].iloc[0] / cells["total_params"].iloc[0] * 100
            healthy = cells[~cells["collapsed"]]
            metric = f"{healthy['metric'].mean():.4f}" if len(healthy) else "collapsed"
            rows.append(
                {
                    "where": cells["where"].iloc[0],
                    "method": cells["variant"].iloc[0],
                    "family": family,
                    "trainable % (method)": f"{share:.4f}",
                    "x speed vs full (higher: faster)": _matrix_speed(
                        cells, full, base_step, timings
                    ),
                    "x training memory vs full (lower: less)": (
                        f"{cells['train_mem_mib'].median() / base_mem:.2f}"
                    ),
                    "metric": cells["metric_name"].iloc[0],
                    "mean of healthy seeds": metric,
                    "seeds": len(cells),
                    "failures": failure_notes(cells),
                    "full configuration": full["variant"].iloc[0],
                    "typical use (guides)": TYPICAL_USE.get(family, "-"),
                }
            )
    return pd.DataFrame(rows)
