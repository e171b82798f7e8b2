"""How the store's comparisons with full read: the Δ / p / seeds columns of a page's table,
its caption, and `comparisons.md`, which lists every family Holm runs over."""

from __future__ import annotations

import pandas as pd

from bench.report.comparison_book import FAMILY_NOTE, ComparisonBook, Tested
from bench.report.labels import BASELINE, heading_anchor

POWER = 0.8
PAGE = "comparisons.md"


def seeds_needed(tested: Tested) -> str:
    """The point figure with its range over the seed variance's 90% interval: with 2 or 3
    seeds that variance is barely known, and so is the figure."""
    result = tested.result
    if result is None or not result.testable:
        return "n/a: 1 seed"
    needed = result.seeds_for_power(POWER)
    if needed is None:
        return "> 100" if result.estimate else "-"
    low, high = result.seeds_for_power_range(POWER)
    span = f"{low or '> 100'}-{high or '> 100'}" if low != high else ""
    have = " (have)" if needed <= result.seeds else ""
    return f"{needed}{have}" + (f" [{span}]" if span else "")


def _delta(tested: Tested) -> tuple[str, str]:
    """(Δ with its interval, the family's Holm p) as a table shows them."""
    if tested.untested is not None:
        return f"not tested: {tested.untested}", "—"
    result = tested.result
    assert result is not None
    if not result.testable:
        return f"{result.estimate:+.4f} (1 seed)", "n/a: 1 seed, no test"
    return f"{result.estimate:+.4f} [{result.low:+.4f}, {result.high:+.4f}]", f"{tested.holm_p:.3g}"


def comparison_columns(rows: list[tuple[str, Tested]], baseline: str = BASELINE) -> pd.DataFrame:
    """One row per (label on this page, its comparison with `baseline`): Δ with its
    method-level interval, the Holm p of its store-wide family, seeds for 80% power."""
    out = []
    for label, tested in rows:
        delta, p = _delta(tested)
        out.append(
            {
                "method": label,
                f"Δ vs {baseline} [95% CI]": delta,
                "p (Holm, family of the budget)": p,
                "seeds for 80% power": seeds_needed(tested) if tested.untested is None else "—",
            }
        )
    return pd.DataFrame(out, columns=None if out else ["method"])


def family_caption(rows: list[tuple[str, Tested]], metric: str) -> str:
    """What Δ, its interval and p are, and the family each p was corrected over."""
    tested = [t for _, t in rows if t.testable]
    if tested:
        first = tested[0]
        here = len(tested)
        family = (
            f"p Holm-corrected over the family of the {first.family_size} tested comparison(s) "
            f"with `{BASELINE}` that the store holds at this budget ({here} in this table; every "
            f"one listed in [{PAGE}]({PAGE}#{heading_anchor(first.where)})); the 95% intervals "
            "are not adjusted for that multiplicity"
        )
    else:
        family = "no p-value: a test needs 2+ seeds of both methods, paired by seed"
    return (
        f"Δ: method minus `{BASELINE}` in {metric}, the mean over seed-paired differences; "
        f"interval and p method-level (see above); {family}. A method with collapsed seeds is "
        "not tested: a collapse is a failure, not seed noise."
    )


def comparisons_page(book: ComparisonBook, command: str) -> str:
    """Every family of the store: each configuration against each of full's at its budget."""
    lines = [
        "# Every comparison with full fine-tuning in the store, and its Holm family",
        "",
        f"- Command: `{command}`; store `{book.store.path}`.",
        f"- {FAMILY_NOTE}",
        "- Δ: the configuration minus full in the task's primary metric, the mean over "
        "seed-paired differences; interval and p method-level (seed and test-set variance, "
        "bench/stats/method_level.py). Raw p is before the family's correction.",
        "",
    ]
    budgets = book.budgets()
    if not budgets:
        return "\n".join([*lines, "No budget holds full fine-tuning beside another method."]) + "\n"
    for budget in budgets:
        family = book.family(budget)
        if not family:
            continue
        rows = []
        for t in family:
            delta, p = _delta(t)
            raw = t.result.pvalue if t.testable and t.result is not None else None
            rows.append(
                {
                    "configuration": t.variant,
                    "against": t.baseline_variant,
                    "seeds": t.result.seeds if t.result is not None else "—",
                    "Δ [95% CI]": delta,
                    "raw p": f"{raw:.3g}" if raw is not None else "—",
                    "p (Holm)": p,
                    "seeds for 80% power": seeds_needed(t) if t.untested is None else "—",
                }
            )
        tested = family[0].family_size
        lines += [
            f"## {family[0].where}",
            "",
            f"Family: {tested} tested comparison(s).",
            "",
            pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True),
            "",
        ]
    return "\n".join(lines) + "\n"
