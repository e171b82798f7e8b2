"""Benchmarks (pytest-benchmark), not tests: `pytest benchmarks` runs them; plain `pytest` does
not. At the end each comparison is printed as a ratio of the medians it compares."""

from __future__ import annotations

from typing import Any

import pytest

MEDIANS: dict[str, float] = {}
TOKENS: dict[str, int] = {}
OVERHEAD: dict[str, float] = {}

# (name, numerator, denominator, what the ratio means)
COMPARISONS = (
    ("harness overhead", "harness", "bare", "our loop with meters and store / a bare loop"),
    ("ours vs Trainer", "trainer", "ours", "HF Trainer time / our loop's time (>1: we are faster)"),
    ("compile speed-up", "ours", "ours-compiled", "our loop / our loop compiled (>1: faster)"),
)


@pytest.fixture
def record_median(benchmark: Any):
    """Call after benchmark.pedantic: keeps the median under `name` for the summary."""

    def keep(name: str, tokens: int) -> None:
        MEDIANS[name] = benchmark.stats.stats.median
        TOKENS[name] = tokens
        benchmark.extra_info["tokens_per_s"] = tokens / benchmark.stats.stats.median

    return keep


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not MEDIANS and not OVERHEAD:
        return
    write = terminalreporter.write_line
    if "paired" in OVERHEAD:
        write("")
        write(
            f"harness overhead, median of paired runs: {100 * (OVERHEAD['paired'] - 1):+.2f}% "
            "(our loop with meters and store against a bare loop, back to back)"
        )
    if "trainer" in OVERHEAD:
        write(
            f"Trainer's time / ours, median of paired runs: {OVERHEAD['trainer']:.3f} "
            "(>= 1: our loop is at least as fast)"
        )
    write("")
    write("ftbench loop benchmarks (medians)")
    for name, seconds in MEDIANS.items():
        write(f"  {name:14s} {seconds:8.3f} s  {TOKENS[name] / seconds:10.0f} tokens/s")
    for title, num, den, meaning in COMPARISONS:
        if num in MEDIANS and den in MEDIANS:
            write(f"  {title}: {MEDIANS[num] / MEDIANS[den]:.4f}  ({meaning})")
