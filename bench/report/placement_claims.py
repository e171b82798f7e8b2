"""The guide's adapter-placement table (feed-forward 0.3% of the parameters at 1.2x compute,
attention 0.7% at 1.5x, MLP 1.1% at 1.8x) against the `bottleneck` method's placements: the
exact share of parameters, the training step time over the head alone's (the same frozen base,
no adapter), re-timed side by side, and the counted FLOPs per token over the head alone's."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.report.verdict import Verdict
from bench.timing.ratios import side_by_side

CLAIM = "Adapter placement"
# the guide's rows: (its layer type, our placement, share %, compute x)
ROWS = (
    ("Feed-Forward", "ffn", 0.3, 1.2),
    ("Attention", "attention", 0.7, 1.5),
    ("MLP", "ffn", 1.1, 1.8),  # a transformer block's MLP is its feed-forward sub-layer
)
HOW_TO_RUN = (
    "run `python run_all.py run --suite adapters`, then `time --suite adapters --tasks "
    "tweet_sentiment`"
)


def _placement(spec: Any) -> str | None:
    settings = dict(spec.settings)
    return settings.get("placement") if spec.method == "bottleneck" else None


def _head_only(group: pd.DataFrame) -> pd.DataFrame | None:
    """The cells training the head alone (freeze 0 blocks) at the same budget."""
    heads = group[
        group["spec"].map(lambda s: s.method == "freeze" and dict(s.settings).get("layers") == 0)
    ]
    return heads if len(heads) else None


def _overhead(mine: pd.DataFrame, head: pd.DataFrame, timings: list[dict]) -> tuple[str, float]:
    """The step time over the head alone's: side by side where a pass timed both."""
    paired = side_by_side(timings, head["config"].iloc[0], mine["config"].iloc[0])
    if paired is not None and paired.rounds:
        return f"step time x{paired.ratio:.2f} [{paired.low:.2f}-{paired.high:.2f}]", paired.ratio
    ratio = float(mine["step_time_s"].median() / head["step_time_s"].median())
    return f"step time x{ratio:.2f} (separate runs)", ratio


def placement_claims(frame: pd.DataFrame, timings: list[dict]) -> list[Verdict]:
    """One row per guide row and budget where the adapters suite's cells are stored."""
    if frame.empty or "spec" not in frame:
        return [Verdict(CLAIM, "-", "not measured yet: no bottleneck cells", HOW_TO_RUN)]
    out = []
    for _, group in frame.groupby("budget", sort=True):
        head = _head_only(group)
        placed = group[group["spec"].map(_placement).notna()]
        if head is None or placed.empty:
            continue
        for layer, placement, share_claimed, compute_claimed in ROWS:
            mine = placed[placed["spec"].map(_placement) == placement]
            if mine.empty:
                continue
            share = float(mine["method_params"].iloc[0] / mine["total_params"].iloc[0] * 100)
            overhead, ratio = _overhead(mine, head, timings)
            flops = (
                float(mine["flops_per_token"].median() / head["flops_per_token"].median())
                if "flops_per_token" in mine
                else float("nan")
            )
            share_ok = share_claimed / 1.5 <= share <= share_claimed * 1.5
            compute_ok = abs(ratio - compute_claimed) <= 0.1 * compute_claimed
            verdict = {
                (True, True): "holds",
                (True, False): "does not hold: the share does, the compute does not",
                (False, True): "does not hold: the compute does, the share does not",
                (False, False): "does not hold",
            }[(share_ok, compute_ok)]
            out.append(
                Verdict(
                    f"{CLAIM}: {layer} {share_claimed:g}% of the parameters at "
                    f"{compute_claimed:g}x compute ({mine['variant'].iloc[0]})",
                    f"{share:.2f}% of the parameters; {overhead} and FLOPs per token "
                    f"x{flops:.2f} of the head alone's, on {mine['where'].iloc[0]}",
                    verdict,
                    "share: the adapters' parameters over all (within a factor 1.5 of the "
                    "claim holds; it scales with the bottleneck width, which the guide does not "
                    "give); compute: the training step against the same frozen base training "
                    "its head alone (within 10% holds), timed side by side by `time --suite "
                    "adapters --tasks tweet_sentiment`; FLOPs counted per token "
                    "(bench/meters/flops.py)"
                    + (
                        "; the guide lists MLP apart from Feed-Forward, which in a transformer "
                        "block are one sub-layer: both rows are checked against it"
                        if layer == "MLP"
                        else ""
                    ),
                )
            )
    return out or [Verdict(CLAIM, "-", "not measured yet: no bottleneck cells", HOW_TO_RUN)]
