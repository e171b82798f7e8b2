"""A suite at its registered learning rates against the same at searched ones, its k-shot curve
and its self-training row, all found in the store around the suite's configurations (search
trials, the cells at the chosen rates, k-shot and self-training cells of the same budget)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.spec import CellSpec, SuiteSpec
from bench.core.status import Status
from bench.evaluate.metrics import LOWER_IS_BETTER
from bench.plan.suites import expand
from bench.report.cells_table import cells_frame
from bench.report.comparison_book import ComparisonBook
from bench.report.labels import BASELINE, method_label
from bench.report.suite_page import _commands
from bench.search.grid import Choice, choice_table, choose, config_key, final_cells
from bench.stats.collapse import collapse_note, with_failure_modes
from bench.stats.compare import method_level_difference
from bench.stats.configurations import configuration_key
from bench.stats.method_level import MethodDifference
from bench.store.cell_store import Store

REGIME_FIELDS = ("shots", "max_steps", "self_training")


@dataclasses.dataclass(frozen=True)
class Found:
    """The stored cells of one suite that this report reads."""

    suite: list[CellSpec]
    trials: list[CellSpec]
    tuned: list[CellSpec]
    regimes: list[dict[str, Any]]  # k-shot and self-training records
    choices: dict[str, Choice]  # the search's choice per configuration


def _family(spec: CellSpec, suite_cell: CellSpec) -> str:
    """A cell's configuration with its seed, rate and trial flag reset, and its low-resource
    regime set to the suite cell's."""
    reset = {f: getattr(suite_cell, f) for f in REGIME_FIELDS}
    return config_key(dataclasses.replace(spec, **reset))


def find(store: Store, suite: SuiteSpec) -> Found:
    cells = expand(suite)
    configs = {config_key(c) for c in cells}
    keyed = {config_key(c, with_key=True) for c in cells}
    template = cells[0]
    trials, regimes, with_key = [], [], False
    for rec in store.cells():
        spec: CellSpec = rec["spec"]
        if spec.trial and config_key(spec) in configs:
            trials.append(spec)
        elif spec.trial and config_key(spec, with_key=True) in keyed:
            trials.append(spec)  # a trial of a search over the key setting too
            with_key = True
        elif spec.shots is not None and _family(spec, template) in configs:
            regimes.append(rec)
    choices = choose(store, trials, with_key)
    tuned = final_cells(cells, choices, with_key) if choices else []
    return Found(cells, trials, tuned, regimes, choices)


def _frame(store: Store, specs: list[CellSpec], variant: str) -> pd.DataFrame:
    frame = cells_frame(store.cells([s.cell_id for s in specs]))
    if not frame.empty:
        frame["variant"] = frame["method"] + f" @ {variant}"
    return frame


def _diff(result: MethodDifference | None) -> str:
    if result is None or not result.testable:
        return "n/a"
    return f"{result.estimate:+.4f} [{result.low:+.4f}, {result.high:+.4f}], p {result.pvalue:.3f}"


def _one_test(
    store: Store, frame: pd.DataFrame, variant: str, other: str
) -> tuple[str, MethodDifference | None]:
    """`variant` − `other`, one uncorrected method-level test; not made (and said why) where a
    side has collapsed seeds, which are failures, not noise."""
    flagged = with_failure_modes(frame[frame["variant"].isin([variant, other])])
    for name in (variant, other):
        note = collapse_note(flagged[flagged["variant"] == name])
        if note:
            return f"not tested: {name} has {note}", None
    result = method_level_difference(store, frame, variant, other, "variant")
    return _diff(result), result


def _against_full(book: ComparisonBook, frame: pd.DataFrame, variant: str, full: str) -> str:
    """The store's comparison of two configurations, with its family's Holm p."""
    mine, base = frame[frame["variant"] == variant], frame[frame["variant"] == full]
    if mine.empty or base.empty:
        return "n/a"
    keys = (configuration_key(mine["spec"].iloc[0]), configuration_key(base["spec"].iloc[0]))
    tested = book.get(*keys)
    if tested is None:
        return "n/a"
    if tested.untested is not None:
        return f"not tested: {tested.untested}"
    result = tested.result
    if result is None or not result.testable:
        return "n/a"
    return (
        f"{result.estimate:+.4f} [{result.low:+.4f}, {result.high:+.4f}], "
        f"p (Holm) {tested.holm_p:.3f}"
    )


def _mean_sd(values: pd.Series) -> str:
    if values.empty:
        return "n/a"
    sd = values.std(ddof=1) if len(values) > 1 else math.nan
    return f"{values.mean():.4f}" + (f" ± {sd:.4f}" if len(values) > 1 else "")


def _ranks(means: dict[str, float], lower_better: bool) -> dict[str, int | None]:
    """1 for the best mean; None for a method without stored cells."""
    known = [m for m in means if not math.isnan(means[m])]
    order = sorted(known, key=means.__getitem__, reverse=not lower_better)
    return {m: (order.index(m) + 1 if m in known else None) for m in means}


def comparison_section(store: Store, found: Found, book: ComparisonBook) -> str:
    """Per task: each method at both rates, its difference to full at each, the change that
    tuning made, the ranks, and every pair whose order the search reversed."""
    both = pd.concat(
        [_frame(store, found.suite, "registered"), _frame(store, found.tuned, "tuned")],
        ignore_index=True,
    )
    both = both[both["status"] == Status.OK]
    searched = {(t.model, t.task) for t in found.trials}
    out = []
    for (model, task), frame in both.groupby(["model", "task"], sort=False):
        if (model, task) not in searched:
            continue
        metric = frame["metric_name"].iloc[0]
        lower = metric in LOWER_IS_BETTER
        methods = list(dict.fromkeys(frame["method"]))
        means = {
            way: {m: frame[frame["variant"] == f"{m} @ {way}"]["metric"].mean() for m in methods}
            for way in ("registered", "tuned")
        }
        ranks = {way: _ranks(means[way], lower) for way in means}
        rows = []
        for m in methods:
            row: dict[str, Any] = {"method": m}
            for way in ("registered", "tuned"):
                cells = frame[frame["variant"] == f"{m} @ {way}"]
                row[f"{way} lr"] = f"{cells['lr'].iloc[0]:g}" if len(cells) else "n/a"
                row[f"{metric} ({way})"] = _mean_sd(cells["metric"])
                row[f"Δ vs full ({way})"] = (
                    "-"
                    if m == BASELINE
                    else _against_full(book, frame, f"{m} @ {way}", f"{BASELINE} @ {way}")
                )
                row[f"rank ({way})"] = ranks[way][m] or "n/a"
            same = set(frame[frame["variant"] == f"{m} @ tuned"]["cell_id"]) == set(
                frame[frame["variant"] == f"{m} @ registered"]["cell_id"]
            )
            row["tuned − registered"] = (
                "0 (the search kept the registered rate)"
                if same
                else _one_test(store, frame, f"{m} @ tuned", f"{m} @ registered")[0]
            )
            rows.append(row)
        table = pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
        changes = []
        for i, a in enumerate(methods):
            for b in methods[i + 1 :]:
                if None in (ranks[w][x] for w in ranks for x in (a, b)):
                    continue
                before = ranks["registered"][a] < ranks["registered"][b]
                after = ranks["tuned"][a] < ranks["tuned"][b]
                if before == after:
                    continue
                winner, loser = (a, b) if after else (b, a)
                text, result = _one_test(store, frame, f"{winner} @ tuned", f"{loser} @ tuned")
                if result is None and text.startswith("not tested"):
                    verdict = f"{text} (the new rank rests on a failure)"
                elif result is not None and result.testable and result.pvalue < 0.05:
                    verdict = f"{text}: a method-level difference at the 5% level"
                else:
                    verdict = f"{text}: not a method-level difference at the 5% level"
                changes.append(
                    f"- {winner} now ranks above {loser} (registered: rank "
                    f"{ranks['registered'][winner]} vs {ranks['registered'][loser]}); at the "
                    f"tuned rates {winner} − {loser}: {verdict}."
                )
        out.append(
            f"### {model} / {task} ({metric})\n\n{table}\n\n"
            + (
                "Where the ranking changes:\n\n" + "\n".join(changes)
                if changes
                else "The ranking is the same at both rates."
            )
            + "\n"
        )
    return "\n".join([_coverage(found, searched), *out])


def _coverage(found: Found, searched: set[tuple[str, str]]) -> str:
    """Which of the suite's task x model pairs the search covered, and which it did not."""
    pairs = list(dict.fromkeys((c.model, c.task) for c in found.suite))
    left = [f"{model} / {task}" for model, task in pairs if (model, task) not in searched]
    covered = len(pairs) - len(left)
    text = f"The search covered {covered} of the suite's {len(pairs)} task x model pairs"
    if not left:
        return text + ".\n"
    return (
        f"{text}; not searched, so absent below (their cells are at the registered rates only, "
        f"on the suite's page): {', '.join(left)}.\n"
    )


def _regime_frame(found: Found) -> pd.DataFrame:
    frame = cells_frame(found.regimes)
    if frame.empty:
        return frame
    specs = [r["spec"] for r in found.regimes]
    frame["method"] = [
        method_label(dataclasses.replace(s, shots=None, self_training=None)) for s in specs
    ]
    frame["shots"] = [s.shots for s in specs]
    frame["self_training"] = [s.self_training for s in specs]
    frame["max_steps"] = [s.max_steps for s in specs]
    frame["record"] = [r["result"] for r in found.regimes]
    return frame[frame["status"] == Status.OK]


def kshot_section(store: Store, found: Found, plot: tuple[Path, str] | None) -> str:
    """Metric against k per method (the searched rates' full-data cells as the last column)."""
    frame = _regime_frame(found)
    if frame.empty:
        return "No k-shot cells are stored for this suite."
    plain = frame[frame["self_training"].isna()]
    full_data = _frame(store, found.tuned or found.suite, "tuned")
    out = []
    for (model, task), group in plain.groupby(["model", "task"], sort=False):
        metric = group["metric_name"].iloc[0]
        ks = sorted(group["shots"].unique())
        rest = full_data[(full_data["task"] == task) & (full_data["status"] == Status.OK)]
        rows, curves = [], {}
        for m in dict.fromkeys(group["method"]):
            mine = group[group["method"] == m]
            row = {"method": m, "lr": ", ".join(f"{v:g}" for v in sorted(mine["lr"].unique()))}
            curves[m] = []
            for k in ks:
                values = mine[mine["shots"] == k]["metric"]
                row[f"k={k}"] = _mean_sd(values)
                if len(values):
                    curves[m].append(
                        (k, values.mean(), values.std(ddof=1) if len(values) > 1 else 0)
                    )
            full = rest[rest["method"] == m]
            n = int(full["data"].iloc[0]["train_examples"]) if len(full) else None
            row["all training examples"] = _mean_sd(full["metric"]) + (f" (n={n})" if n else "")
            counts = sorted({int((mine["shots"] == k).sum()) for k in ks})
            row["seeds"] = "-".join(map(str, counts)) if len(counts) > 1 else counts[0]
            rows.append(row)
        steps = ", ".join(str(v) for v in sorted(group["max_steps"].dropna().unique()))
        full_steps = ", ".join(str(int(v)) for v in sorted(rest["steps"].dropna().unique()))
        text = (
            f"### {model} / {task}: {metric} against k labelled examples per class\n\n"
            f"k-shot cells train {steps} optimizer steps; the last column is the cells at the "
            f"same rates on every training example ({full_steps} steps).\n\n"
            + pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
        )
        if plot is not None:
            path = _kshot_plot(
                curves, f"{model} / {task}", metric, plot[0] / f"{plot[1]}-kshot-{task}.png"
            )
            text += f"\n\n![k-shot curve]({path.name})"
        out.append(text + "\n")
    return "\n".join(out)


def _kshot_plot(
    curves: dict[str, list[tuple[int, float, float]]], title: str, metric: str, path: Path
) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for method, points in curves.items():
        if points:
            ks, means, sds = zip(*points, strict=True)
            ax.errorbar(ks, means, yerr=sds, marker="o", capsize=3, label=method)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k labelled examples per class (log scale)")
    ax.set_ylabel(f"{metric} (mean over seeds, bars: sd)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def self_training_section(store: Store, found: Found) -> str:
    """Self-trained students against the k-shot cells of the same k, rate and steps."""
    frame = _regime_frame(found)
    taught = frame[frame["self_training"].notna()] if not frame.empty else frame
    if taught.empty:
        return "No self-training cells are stored for this suite."
    plain = frame[frame["self_training"].isna()]
    out = []
    for (model, task), group in taught.groupby(["model", "task"], sort=False):
        metric = group["metric_name"].iloc[0]
        rows = []
        for (m, k, lr, threshold), mine in group.groupby(
            ["method", "shots", "lr", "self_training"], sort=False
        ):
            base = plain[
                (plain["task"] == task)
                & (plain["method"] == m)
                & (plain["shots"] == k)
                & (plain["lr"] == lr)
                & (plain["max_steps"].isin(mine["max_steps"].unique()))
            ]
            pair = pd.concat(
                [mine.assign(variant="self-trained"), base.assign(variant="k-shot")],
                ignore_index=True,
            )
            st = [r["regime"]["self_training"] for r in mine["record"]]
            accuracy = [
                s["pseudo_label_accuracy"] for s in st if s["pseudo_label_accuracy"] is not None
            ]
            rows.append(
                {
                    "method": m,
                    "k": int(k),
                    "lr": f"{lr:g}",
                    "threshold": f"{threshold:g}",
                    f"{metric} k-shot": _mean_sd(base["metric"]),
                    f"{metric} self-trained": _mean_sd(mine["metric"]),
                    "self-trained − k-shot": _one_test(store, pair, "self-trained", "k-shot")[0],
                    "pseudo-labels kept (of pool)": (
                        f"{sum(s['kept'] for s in st) / len(st):.0f} of {st[0]['pool']}"
                    ),
                    "their accuracy": (
                        f"{sum(accuracy) / len(accuracy):.3f}" if accuracy else "n/a"
                    ),
                    "seeds": len(mine),
                }
            )
        out.append(
            f"### {model} / {task}\n\n"
            + pd.DataFrame(rows).to_markdown(index=False, disable_numparse=True)
            + "\n"
        )
    return "\n".join(out)


def tuned_report(
    store: Store,
    suite: SuiteSpec,
    command: str,
    plot: tuple[Path, str] | None = None,
    book: ComparisonBook | None = None,
) -> str | None:
    """The whole page, or None when no search trial of this suite is stored."""
    found = find(store, suite)
    book = book or ComparisonBook(store)
    if not found.trials:
        return None
    search = choice_table(found.choices).to_markdown(index=False, disable_numparse=True)
    every = [*found.trials, *found.tuned]
    trained_by = _commands(store.cells([s.cell_id for s in every]) + found.regimes)
    return "\n".join(
        [
            f"# Tuned against the suite's (registered) learning rates: suite `{suite.name}`\n",
            f"{suite.description}\n",
            f"- Command: `{command}`",
            f"- Cells trained by: {trained_by}",
            "- Every p-value is two-sided and method-level (bench.stats.method_level): H0 is that "
            "the two differ by nothing for new training seeds and new test examples alike, seed "
            "and test-set variance both counted. `Δ vs full` is the store's comparison with its "
            "p Holm-corrected over its budget's family (every configuration against full there, "
            "listed in [comparisons.md](comparisons.md)), the same p as on every other page; "
            "`tuned − registered`, the ranking changes and `self-trained − k-shot` are one "
            "comparison each, not corrected. Intervals are 95%, not adjusted.",
            "- The search scored trials on the validation split only (the test split is never "
            "read by a trial); the cells at the chosen rates are then scored on the test split.\n",
            "## The search\n",
            search + "\n",
            "## The suite's rates against tuned ones\n",
            "`registered` is the rate the suite gives each method (the method's registered rate "
            "unless the suite names another); `tuned` is the search's choice.\n",
            comparison_section(store, found, book),
            "## Few labelled examples: the k-shot curve\n",
            kshot_section(store, found, plot),
            "## Self-training\n",
            "A teacher trained on the k labelled examples per class labels the rest of the "
            "training split (its labels unread); predictions at least as confident as the "
            "threshold join the labelled examples, and a student from the same starting point "
            "trains on both for the same number of steps. Pseudo-label accuracy is read from "
            "the true labels after training, as a diagnostic.\n",
            self_training_section(store, found),
        ]
    )
