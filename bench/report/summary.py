"""`reports/README.md`: which method to pick, from what the store holds. Every statement is
computed from the suite pages' own tables (the same cells, the same tests) and links to the
table it rests on; what is not measured is said plainly."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from bench.core.spec import CellSpec, SuiteSpec
from bench.core.status import Status
from bench.report.cells_table import cells_frame, configurations_apart
from bench.report.comparison_book import ComparisonBook
from bench.report.failures import collapsed_methods
from bench.report.labels import BASELINE, heading_anchor
from bench.report.multitask_table import multitask_lines
from bench.report.preference_summary import is_preference_task, preference_lines
from bench.report.regime_summary import regime_lines
from bench.report.serving_summary import serving_lines
from bench.report.suite_page import against_baseline, method_table
from bench.stats.collapse import with_failure_modes
from bench.store.cell_store import Store

NOT_MEASURED = (
    "GPU cells: no GPU has been lent to the sessions that made this store, so memory on GPUs, "
    "NVML peaks, step time, energy and MFU are predictions (`python run_all.py --gpu NAME "
    "--dry-run`), not measurements; [predictions.md](predictions.md) (`python run_all.py "
    "predict`) sets the predictor beside other projects' published GPU measurements",
    "energy on this CPU: no RAPL counter is readable here (every J/sample is n/a, never 0)",
    "serving on a GPU (ONNX Runtime's CUDA and TensorRT providers) and serving generation "
    "tasks: not measured yet; serving is measured on the CPU for classifiers",
    "preference pairs judged by people: none installs offline, so the preference cells learn "
    "pairs built from SFT data (a prompt's reply against another topic's), and the win rates "
    "are judged by reward models trained on such pairs, not by people; RLHF with PPO is not "
    "measured",
    "methods on decoders beyond SmolLM2-135M (one seed per method there), and seeds beyond 3: "
    "several comparisons need more seeds for 80% power (the pages print how many)",
)


def _findings(
    stem: str, task: str, model: str, group: pd.DataFrame, book: ComparisonBook, timings: list[dict]
) -> dict[str, Any] | None:
    ok = group[group["status"] == Status.OK]
    if ok.empty or BASELINE not in set(ok["method"]) or is_preference_task(task):
        return None  # preference tasks: one line per objective, never a pooled best
    table = method_table(group, timings=timings).set_index("method")
    flagged = with_failure_modes(ok)
    collapsed = sorted(collapsed_methods(ok))
    comparisons = {m: t.result for m, t in against_baseline(ok, book) if t.testable}
    metric = ok["metric_name"].iloc[0]
    means = {m: g[~g["collapsed"]]["metric"].mean() for m, g in flagged.groupby("method")}
    worse = sorted(m for m, r in comparisons.items() if r.high < 0)
    better = sorted(m for m, r in comparisons.items() if r.low > 0)
    unresolved = sorted(m for m, r in comparisons.items() if r.low <= 0 <= r.high)
    memory = table["x training memory vs full (lower: less)"]
    title = f"{task} on {model}"
    return {
        "where": f"[{title}]({stem}.md#{heading_anchor(title)})",
        "metric": metric,
        "baseline_mean": means.get(BASELINE),
        "best": max((m for m in means if m not in collapsed), key=means.__getitem__, default=None),
        "means": means,
        "worse": worse,
        "better": better,
        "unresolved": unresolved,
        "collapsed": collapsed,
        "failures": table["failures"].to_dict(),
        "memory": {m: float(v) for m, v in memory.items() if v != "n/a"},
        "speed": table["x speed vs full (higher: faster)"].to_dict(),
        "seeds": int(ok.groupby("method").size().max()),
    }


def _lines(found: dict[str, Any]) -> list[str]:
    metric, where = found["metric"], found["where"]
    best = found["best"]
    out = [
        f"- {where}: `{BASELINE}` {found['baseline_mean']:.4f} {metric} "
        f"({found['seeds']} seed{'s' if found['seeds'] > 1 else ''} at most); "
        + (
            f"the best configuration is `{best}` ({found['means'][best]:.4f})."
            if best is not None
            else "every configuration collapsed."
        )
    ]
    if found["better"]:
        out.append(f"  Shown better than full: {', '.join(found['better'])}.")
    if found["worse"]:
        out.append(f"  Shown worse than full (95% interval below 0): {', '.join(found['worse'])}.")
    if found["unresolved"]:
        out.append(
            "  Not shown different from full (the interval holds 0; this is not equivalence: "
            f"see the seeds needed): {', '.join(found['unresolved'])}."
        )
    if found["collapsed"]:
        notes = "; ".join(f"{m}: {found['failures'][m]}" for m in found["collapsed"])
        out.append(f"  Collapsed (a failure, not tested): {notes}.")
    if found["memory"]:
        least = min(found["memory"], key=found["memory"].__getitem__)
        out.append(
            f"  Least training memory: `{least}` at {found['memory'][least]:.2f} of full; "
            f"speed against full: "
            + ", ".join(f"{m} {v}" for m, v in found["speed"].items() if m != BASELINE)
            + "."
        )
    return out


def _choices(findings: list[dict[str, Any]]) -> list[str]:
    """Which method for which situation, per task: the best quality, and the least memory
    among the configurations not shown worse than full (nor collapsed)."""
    rows = []
    for found in findings:
        safe = [m for m in found["unresolved"] + found["better"] if m in found["memory"]]
        frugal = min(safe, key=found["memory"].__getitem__) if safe else None
        tested = found["worse"] + found["unresolved"] + found["better"]
        others = {m: v for m, v in found["memory"].items() if m != BASELINE}
        if not tested and others:  # one seed each: no method was tested against the baseline
            least = min(others, key=others.__getitem__)
            untested = f"no test (1 seed each); least memory `{least}` ({others[least]:.2f})"
        else:
            untested = "none: every other method is worse, collapsed or untested"
        rows.append(
            {
                "where": found["where"],
                "best quality": f"`{found['best']}`" if found["best"] else "none: all collapsed",
                "least memory, not shown worse than full": (
                    f"`{frugal}` ({found['memory'][frugal]:.2f} of full's memory)"
                    if frugal
                    else untested
                ),
                "avoid": ", ".join(f"`{m}`" for m in found["worse"] + found["collapsed"]) or "-",
            }
        )
    return [pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)] if rows else []


def summary_page(
    store: Store,
    pages: Sequence[tuple[str, SuiteSpec, Sequence[CellSpec]]],
    command: str,
    book: ComparisonBook | None = None,
) -> str:
    """The one-page summary over the CPU suite pages (`pages`: stem, suite, its cells);
    `book`: the comparisons the pages were written from (computed here when not given)."""
    book = book or ComparisonBook(store)
    timings = store.timings()
    sections, findings, serving, preferences, regimes, shared = [], [], [], [], [], []
    for stem, suite, cells in pages:
        records = store.cells([c.cell_id for c in cells])
        if not records:
            continue
        frame = configurations_apart(cells_frame(records))
        serving += serving_lines(stem, frame[frame["status"] == Status.OK])
        preferences += preference_lines(stem, frame[frame["status"] == Status.OK], store, timings)
        regimes += regime_lines(stem, frame[frame["status"] == Status.OK], store)
        shared += multitask_lines(stem, frame[frame["status"] == Status.OK], store)
        lines = []
        for (task, model), group in frame.groupby(["task", "model"], sort=False):
            found = _findings(stem, task, model, group, book, timings)
            if found is not None:
                findings.append(found)
                lines += _lines(found)
        if lines:
            sections += [f"### [{suite.name}]({stem}.md)", "", *lines, ""]
    text = [
        "# Which method? What this store says",
        "",
        f"- Command: `{command}`; store `{store.path}` ({store.count()} cells). Every "
        "statement below is computed from a suite page's table (the same cells and tests) and "
        "links to it; nothing here is typed by hand.",
        "- Δ, intervals and p-values are the pages' method-level ones (seed and test-set "
        "variance; Holm over each budget's comparisons with full in the store, listed in "
        '[comparisons.md](comparisons.md)). "Not shown different" is '
        'not "as good as": with 1 to 3 seeds most intervals are wide, and the pages print '
        "how many seeds a decision would need. A collapsed seed (one class predicted for every "
        "test example) is a failure: such a configuration is listed to avoid, not averaged.",
        "- Speed against full is side by side (a timing pass's median ratio and its spread) "
        "where the store holds one, else marked `(separate runs)`; memory is training memory "
        "(on the CPU the RSS added after the cell started).",
        "",
        "## Which method for which situation",
        "",
        *_choices(findings),
        "",
        "## What each page shows",
        "",
        *sections,
        *(["## Serving after training", "", *serving, ""] if serving else []),
        *(["## Preference tuning", "", *preferences, ""] if preferences else []),
        *(["## Dynamic masking and augmentation", "", *regimes, ""] if regimes else []),
        *(["## One adapter shared by several tasks", "", *shared, ""] if shared else []),
        "## Not measured yet",
        "",
        *[f"- {item}." for item in NOT_MEASURED],
        "",
    ]
    return "\n".join(text)
