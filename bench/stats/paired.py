"""Seed-level statistics the engine uses: Holm's correction over a page's comparisons and
the by-seed non-inferiority test (the gate's fallback where no per-example rows exist).

scipy and statsmodels do the statistics; this module fixes the conventions (difference is
new - base, defined answers on degenerate input).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as st
from statsmodels.stats.multitest import multipletests

ArrayLike = Sequence[float] | np.ndarray


@dataclass(frozen=True)
class Corrected:
    """P-values after a correction for many comparisons, and which hypotheses it rejects."""

    pvalues: tuple[float, ...]
    reject: tuple[bool, ...]
    method: str
    alpha: float


@dataclass(frozen=True)
class NonInferiority:
    """H0: mean(new - base) <= -margin. Passed when the one-sided lower bound exceeds -margin."""

    passed: bool
    statistic: float
    pvalue: float
    estimate: float
    low: float
    margin: float
    n: int
    note: str = ""


def _paired(a: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(
            f"paired samples must be 1-d and of equal length, got {x.shape} and {y.shape}"
        )
    return x, y


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> Corrected:
    """Holm's step-down correction (statsmodels' method="holm"; its default is Holm-Sidak)."""
    if len(pvalues) == 0:
        return Corrected((), (), "holm", alpha)
    clean = [1.0 if p is None or not math.isfinite(p) else float(p) for p in pvalues]
    reject, corrected, _, _ = multipletests(clean, alpha=alpha, method="holm")
    return Corrected(
        tuple(float(p) for p in corrected), tuple(bool(r) for r in reject), "holm", alpha
    )


def seed_noninferiority(
    new: ArrayLike, base: ArrayLike, margin: float, alpha: float = 0.05
) -> NonInferiority:
    """One-sided paired t-test of H0: mean(new - base) <= -margin at level alpha."""
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    x, y = _paired(new, base)
    d = x - y
    n = len(d)
    mean = float(d.mean()) if n else 0.0
    if n < 2:
        return NonInferiority(
            False,
            0.0,
            1.0,
            mean,
            -math.inf,
            margin,
            n,
            note="fewer than 2 pairs: non-inferiority cannot be shown",
        )
    if np.all(d == d[0]):
        passed = mean > -margin
        return NonInferiority(
            passed,
            math.inf if passed else -math.inf,
            0.0 if passed else 1.0,
            mean,
            mean,
            margin,
            n,
            note="identical differences",
        )
    result = st.ttest_rel(x + margin, y, alternative="greater")
    low = float(result.confidence_interval(1 - alpha).low) - margin
    return NonInferiority(
        low > -margin, float(result.statistic), float(result.pvalue), mean, low, margin, n
    )
