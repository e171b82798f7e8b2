"""Speed ratios from stored timing passes: each round's windows of two configurations were
taken minutes apart, so a ratio per round, and its spread over the rounds; a window the
machine's load contended is counted and its round left out of the ratio."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SideBySide:
    """baseline's median step / the configuration's (> 1: the configuration is faster)."""

    ratio: float  # the median over clean rounds
    low: float  # the smallest and largest round's ratio
    high: float
    rounds: int  # clean rounds used
    contended: int  # rounds left out: a window of either configuration was contended
    pass_id: str

    def text(self) -> str:
        spread = f" [{self.low:.2f}-{self.high:.2f}]" if self.rounds > 1 else ""
        flag = f", {self.contended} contended round(s) left out" if self.contended else ""
        return f"{self.ratio:.2f}{spread} ({self.rounds} rounds side by side{flag})"


def _by_pass(windows: list[dict[str, Any]]) -> dict[str, dict[tuple[int, str], dict]]:
    out: dict[str, dict[tuple[int, str], dict]] = {}
    for w in windows:
        out.setdefault(w["pass_id"], {})[(w["round"], w["config"])] = w
    return out


def side_by_side(windows: list[dict[str, Any]], config: str, baseline: str) -> SideBySide | None:
    """The latest pass that timed both configurations, as a ratio with its spread; None when
    no pass timed them together (then no ratio is side by side)."""
    for pass_id, rounds in reversed(list(_by_pass(windows).items())):
        numbers = sorted(
            {r for r, c in rounds if c == config} & {r for r, c in rounds if c == baseline}
        )
        if not numbers:
            continue
        ratios, contended = [], 0
        for r in numbers:
            mine, base = rounds[(r, config)], rounds[(r, baseline)]
            if mine["load"]["contended"] or base["load"]["contended"]:
                contended += 1
                continue
            ratios.append(
                statistics.median(base["step_times"]) / statistics.median(mine["step_times"])
            )
        if not ratios:
            return SideBySide(float("nan"), float("nan"), float("nan"), 0, contended, pass_id)
        return SideBySide(
            statistics.median(ratios), min(ratios), max(ratios), len(ratios), contended, pass_id
        )
    return None


def timed_step(windows: list[dict[str, Any]], config: str) -> float | None:
    """The configuration's median step time in the latest pass that timed it: the median over
    its uncontended rounds of each round's median step; None when no pass timed it cleanly."""
    for rounds in reversed(list(_by_pass(windows).values())):
        clean = [
            statistics.median(w["step_times"])
            for (_, c), w in rounds.items()
            if c == config and not w["load"]["contended"]
        ]
        if clean:
            return statistics.median(clean)
    return None
