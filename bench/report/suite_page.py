"""Markdown reports from the store: one table per task and model, nothing trained."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from bench.core.spec import CellSpec, SuiteSpec
from bench.core.status import Status
from bench.report.cells_table import cells_frame, configurations_apart, step_time_text
from bench.report.comparison_book import ComparisonBook, Tested
from bench.report.comparisons_page import comparison_columns, family_caption
from bench.report.distill_table import distillation_section
from bench.report.estimates import estimate_section
from bench.report.failures import failure_notes
from bench.report.labels import BASELINE, fmt_memory
from bench.report.multitask_table import multitask_section
from bench.report.plots import method_summary, pareto_plot
from bench.report.preference_table import OBJECTIVES, preference_section
from bench.report.regime_table import REGIMES, regime_section
from bench.report.serving_table import serving_section
from bench.report.speed import speed_ratio
from bench.stats.collapse import with_failure_modes
from bench.stats.configurations import configuration_key
from bench.store.cell_store import Store

MAX_LISTED_LABELS = 8  # beyond this many classes, reports summarise instead of listing each


def _fmt_count(n: float) -> str:
    return f"{int(n):,}"


def method_table(
    frame: pd.DataFrame,
    baseline: str = BASELINE,
    timings: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """Aggregate the ok cells of one task x model over seeds, one row per method; the metric
    over the seeds that did not collapse (the collapses are counted in `failures`); the speed
    ratio side by side where a timing pass timed both (`timings`: the store's windows)."""
    ok = with_failure_modes(frame[frame["status"] == Status.OK])
    rows = []
    base = ok[ok["method"] == baseline]
    base_mem = base["train_mem_mib"].median() if len(base) else None
    for method, group in ok.groupby("method", sort=False):
        metric = group[~group["collapsed"]]["metric"]
        sd = metric.std(ddof=1) if len(metric) > 1 else float("nan")
        mem = group["train_mem_mib"].median()
        energy = group["energy_per_sample_j"].dropna()
        rows.append(
            {
                "method": method,
                "trainable params (method + head)": (
                    f"{_fmt_count(group['method_params'].iloc[0])} + "
                    f"{_fmt_count(group['head_params'].iloc[0])}"
                ),
                "trainable %": f"{group['trainable_pct'].iloc[0]:.3f}",
                "peak memory": fmt_memory(group["peak_mem_mib"].median()),
                "training memory": fmt_memory(mem),
                "allocator peak": (
                    fmt_memory(group["allocated_mib"].median())
                    if group["allocated_mib"].notna().any()
                    else "n/a"
                ),
                "x training memory vs full (lower: less)": (
                    f"{mem / base_mem:.2f}" if base_mem else "n/a"
                ),
                "step time ms": step_time_text(group),
                "samples/s": f"{group['samples_per_s'].median():.1f}",
                "x speed vs full (higher: faster)": speed_ratio(group, base, timings),
                "J/sample": f"{energy.median():.3g}" if len(energy) else "n/a",
                f"{group['metric_name'].iloc[0]} mean ± sd": (
                    f"{metric.mean():.4f} ± {sd:.4f}"
                    if len(metric) > 1
                    else (f"{metric.mean():.4f}" if len(metric) else "collapsed")
                ),
                "seeds": len(group),
                "failures": failure_notes(group),
            }
        )
        if "mfu" in group and group["mfu"].notna().any():  # GPU cells on a profiled card
            rows[-1]["MFU %"] = f"{100 * group['mfu'].median():.1f}"
        if "energy_per_token_j" in group and group["energy_per_token_j"].notna().any():
            rows[-1]["J/token"] = f"{group['energy_per_token_j'].median():.3g}"
        if "perplexity" in group and group["perplexity"].notna().any():  # generation tasks
            rows[-1]["test perplexity (response tokens, mean)"] = (
                f"{group['perplexity'].dropna().mean():.2f}"
            )
        if "lm_loss_increase" in group and group["lm_loss_increase"].notna().any():
            rows[-1]["forgetting: LM loss Δ"] = f"{group['lm_loss_increase'].mean():+.4f}"
        if "embedding_drift" in group and group["embedding_drift"].notna().any():
            rows[-1]["embedding drift"] = f"{group['embedding_drift'].mean():.4f}"
    rows.sort(key=lambda r: r["method"] != baseline)  # the baseline first, then stored order
    return pd.DataFrame(rows).fillna("n/a")


def objective_tables(
    group: pd.DataFrame, timings: list[dict[str, Any]] | None
) -> list[tuple[str, pd.DataFrame]]:
    """A preference task's method table once per objective, each against its own full
    fine-tuning (a reward model's memory and speed are never set against a DPO cell's)."""
    out = []
    objectives = group["spec"].map(lambda s: s.preference_objective)
    for objective in dict.fromkeys(objectives):
        cells = group[objectives == objective]
        fulls = cells[cells["spec"].map(lambda s: s.method == BASELINE)]
        baseline = fulls["method"].iloc[0] if len(fulls) else BASELINE
        title = f"{OBJECTIVES.get(objective, objective)} (against `{baseline}`)"
        out.append((title, method_table(cells, baseline=baseline, timings=timings)))
    return out


def recall_table(ok: pd.DataFrame, max_classes: int = MAX_LISTED_LABELS) -> pd.DataFrame | None:
    """Method x class recall (mean over seeds) for classification with few enough classes."""
    if "recall" not in ok or ok["recall"].isna().all():
        return None
    rows = []
    for method, group in ok.groupby("method", sort=False):
        per_seed = pd.DataFrame([r for r in group["recall"] if r])
        if per_seed.empty or per_seed.shape[1] > max_classes:
            return None
        rows.append({"method": method, **{c: f"{v:.3f}" for c, v in per_seed.mean().items()}})
    return pd.DataFrame(rows)


def _device_of(env: dict[str, Any]) -> str:
    hw = env["hardware"]
    return hw.get("gpu") or f"CPU: {hw.get('cpu', '?')}, {hw.get('cpu_threads', '?')} threads"


def _hardware_line(records: Sequence[dict[str, Any]]) -> str:
    """Every machine the cells ran on (with how many cells each, when more than one); cells
    that stored no hardware (a plugin that failed to load, a refused cell) are left out."""
    envs = [r["env"] for r in records if r["env"] and r["env"].get("hardware")]
    if not envs:
        return "unknown"
    machines = Counter(_device_of(e) for e in envs)
    if len(machines) == 1:
        device = next(iter(machines))
    else:
        device = "; ".join(f"{d} ({n} cells)" for d, n in machines.most_common())
    pythons = ", ".join(sorted({str(e.get("python")) for e in envs if e.get("python")}))
    libs = envs[-1].get("libraries", {})
    versions = ", ".join(f"{k} {v}" for k, v in libs.items() if v)
    all_envs = [r["env"] for r in records if r["env"]]
    commits = sorted({(e.get("git_commit") or "unknown")[:12] for e in all_envs})
    dirty = any((e.get("git_commit") or "").endswith("-dirty") for e in all_envs)
    return (
        f"{device}; Python {pythons or '?'}; {versions}; "
        f"git commit(s) {', '.join(commits)}{' (with uncommitted changes)' if dirty else ''}"
    )


STATISTICS_NOTE = (
    '- Δ vs full, its 95% interval and p are **method-level**: they answer "do the methods '
    'differ?" for new training runs and new test examples alike, counting both the spread '
    "between seeds and the sampling of the test set (MOVER interval, bench/stats/method_level.py); "
    "in A/A simulations with 3 and 5 seeds they keep their 5% level. A per-example test "
    '(McNemar) answers only "do these trained instances differ on this test set?", which two '
    "seeds of one method often do (24% of the A/A pairs in our store), so it is not shown. "
    "Seeds for 80% power: how many seeds this test needs to detect the observed Δ at the "
    'measured variances ("(have)": already enough; "> 100": the test-set variance alone '
    'forbids it), so a large p beside a large figure means "not enough seeds", not "equal"; '
    "in brackets the same figure at the ends of the 90% interval of the seed variance, which "
    "2 or 3 seeds estimate poorly. A seed that predicts one class for every test example is "
    "counted as collapsed (`failures`), left out of the mean, and its method is not tested."
)


def against_baseline(ok: pd.DataFrame, book: ComparisonBook) -> list[tuple[str, Tested]]:
    """Each method of one table with its comparison with the table's full, from the book."""
    config = {
        m: configuration_key(rows["spec"].iloc[0]) for m, rows in ok.groupby("method", sort=False)
    }
    if BASELINE not in config:
        return []
    found = [(m, book.get(key, config[BASELINE])) for m, key in config.items() if m != BASELINE]
    return [(m, tested) for m, tested in found if tested is not None]


def _data_line(task: str, first: pd.Series) -> str:
    """The split's hash and label distribution, the majority baseline, the budget."""
    from bench.core.registry import TASKS

    info = TASKS.get(task) if task in TASKS else None
    data = first["data"]
    parts = []
    distribution = data.get("distribution") or {}
    for part in ("train", "validation", "test"):
        counts = distribution.get(part)
        if counts is None:
            continue
        if "n" in counts:  # regression: score quartiles
            parts.append(f"{part} {counts['n']} (median score {counts['q50']:.2f})")
        elif len(counts) > MAX_LISTED_LABELS:  # many classes: the range, not every count
            values = list(counts.values())
            parts.append(f"{part} {sum(values)} ({min(values)}-{max(values)} per label)")
        else:
            parts.append(f"{part} " + "/".join(str(v) for v in counts.values()))
    text = f"Split `{first['split_hash']}`"
    if parts:
        labels = distribution.get("train", {})
        if "n" in labels:
            names = ""
        elif len(labels) <= MAX_LISTED_LABELS:
            names = f" by label ({'/'.join(labels)})"
        else:
            what = "strata" if info is not None and info.kind == "generation" else "labels"
            names = f" ({len(labels)} {what})"
        text += f": examples{names}: {'; '.join(parts)}"
    if data.get("balance"):
        text += f"; training classes balanced ({data['balance']}-sampled)"
    if first.get("majority") is not None and pd.notna(first.get("majority")):
        text += f". Majority-class baseline accuracy {first['majority']:.4f}"
    text += f". {int(first['steps'])} optimiser steps per cell."
    if info is not None and info.source.startswith("synthetic"):
        text += " **Synthetic data: for memory and speed only, not for accuracy claims.**"
    return text


def _commands(records: Sequence[dict[str, Any]]) -> str:
    commands = sorted({r["env"].get("command") for r in records if r["env"].get("command")})
    return ", ".join(f"`{c}`" for c in commands) or "not recorded"


def suite_report(
    suite: SuiteSpec,
    cells: Sequence[CellSpec],
    store: Store,
    command: str,
    plots: tuple[Path, str] | None = None,
    book: ComparisonBook | None = None,
) -> str:
    """The markdown report of one suite: its cells as the store holds them.

    With `plots=(folder, stem)`, a Pareto plot per task x model is written beside it and linked;
    `book`: the store's comparisons, shared between the pages of one report.
    """
    book = book or ComparisonBook(store)
    records = store.cells([c.cell_id for c in cells])
    lines = [f"# ftbench report: suite `{suite.name}`", ""]
    if suite.description:
        lines += [suite.description, ""]
    lines += [
        f"- Command: `{command}`",
        f"- Store: `{store.path}` ({len(records)} of {len(cells)} cells stored); regenerate "
        f"this page with `python run_all.py report --suite {suite.name} --store {store.path}"
        + (f" --out {plots[0]}`" if plots else "`"),
        f"- Hardware and versions: {_hardware_line(records)}",
        f"- Cells trained by: {_commands(records)}",
        "- Peak memory: peak RSS of the cell's worker process on CPU (model, optimiser, "
        "activations and the Python runtime); on GPU the NVML peak (the process's memory where "
        "the driver reports it, else device used memory minus the baseline at cell start). "
        "Training memory: on CPU the peak RSS minus the RSS at cell start (what loading and "
        "training added; the runtime left out), on GPU the peak memory; the memory ratio uses "
        "it. Allocator peak: torch.cuda.max_memory_allocated (GPU only).",
        "- Step time: median over steady-state optimiser steps (the first 3 warm-up steps "
        "excluded, evaluation excluded), marked `(contended)` where other processes used more "
        "than a tenth of a core (or the hypervisor stole time) while one of the seeds' cells "
        "trained (cells whose record has no `speed.load`, from before it was kept, carry no mark). "
        "The speed ratio is the baseline's "
        "step time over the "
        "method's: from a timing pass (`python run_all.py time --suite NAME`) that re-timed both "
        "side by side in interleaved rounds, shown as the median ratio [lowest-highest round], "
        "rounds whose windows other processes or the hypervisor contended left out; where no "
        "pass timed both, from the cells' own runs, marked `(separate runs)`: those may be "
        "days apart on a drifting shared machine.",
        "- Energy: n/a where no counter is readable (no RAPL on this CPU), never 0.",
        "- Forgetting (where the cells record it): the next-token loss per token on 64 held-out "
        "general-text passages after training minus before (models with an LM head; n/a for "
        "encoders), and embedding drift, 1 minus the mean cosine of their mean-pooled hidden "
        "states before and after.",
        STATISTICS_NOTE,
        "",
    ]
    if not records:
        lines.append("No cell of this suite is stored yet: run `python run_all.py run` first.")
        return "\n".join(lines) + "\n"
    frame = configurations_apart(cells_frame(records))
    timings = store.timings()
    for (task, model), group in frame.groupby(["task", "model"], sort=False):
        ok = group[group["status"] == Status.OK]
        lines.append(f"## {task} on {model}")
        lines.append("")
        if len(ok):
            first = ok.iloc[0]
            lines.append(_data_line(task, first))
            lines.append("")
            preference = preference_section(ok, store, timings)
            if preference:  # a table per objective: DPO and reward models never share one
                for title, table in objective_tables(group, timings):
                    markdown = table.to_markdown(index=False, disable_numparse=True)
                    lines += [f"{title}:", "", markdown, ""]
                lines += preference
            else:
                table = method_table(group, timings=timings)
                compared = against_baseline(ok, book)
                if compared:
                    table = table.merge(comparison_columns(compared), on="method", how="left")
                    table = table.fillna("—")
                lines.append(table.to_markdown(index=False, disable_numparse=True))
                lines.append("")
                if compared:
                    lines.append(family_caption(compared, first["metric_name"]))
                    lines.append("")
                recall = recall_table(ok)
                if recall is not None:
                    lines.append("Per-class recall, mean over seeds (what accuracy hides):")
                    lines.append("")
                    lines.append(recall.to_markdown(index=False, disable_numparse=True))
                    lines.append("")
            lines += serving_section(ok)
            lines += distillation_section(ok, store)
            for field in REGIMES:
                lines += regime_section(ok, store, field)
            if plots is not None and ok["method"].nunique() > 1 and not preference:
                folder, stem = plots
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{stem}-{task}-{model}") + ".png"
                pareto_plot(
                    method_summary(group),
                    f"{suite.name}: {task} on {model}",
                    first["metric_name"],
                    Path(folder) / name,
                )
                lines.append(f"![{first['metric_name']} against memory and time]({name})")
                lines.append("")
            settings = ok.drop_duplicates("method")[["method", "lr", "settings"]]
            lines.append(
                "Settings: "
                + "; ".join(
                    f"{r.method} lr {r.lr:g}" + (f" ({r.settings})" if r.settings else "")
                    for r in settings.itertuples()
                )
                + "."
            )
            lines.append("")
        failed = group[group["status"] != Status.OK]
        if len(failed):
            lines.append("Cells that did not finish:")
            lines.append("")
            lines.append(
                failed[["method", "seed", "status", "error"]].to_markdown(
                    index=False, disable_numparse=True
                )
            )
            lines.append("")
    lines += multitask_section(frame[frame["status"] == Status.OK], store)
    lines += estimate_section(records)
    return "\n".join(lines).rstrip() + "\n"


def write_report(text: str, out_dir: str | Path, name: str) -> Path:
    path = Path(out_dir) / f"{name}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def claims_report(
    store: Store, command: str, margin: float = 0.01, book: ComparisonBook | None = None
) -> str:
    """The claims-vs-measured page from every ok cell of the store and exact counts; `book`:
    the report's shared comparisons (the accuracy rows read its results)."""
    from bench.report.claims import claims, method_matrix

    records = store.cells()
    book = book or ComparisonBook(store)
    table = claims(book, margin)
    matrix = method_matrix(book, store.timings())
    return "\n".join(
        [
            "# Published claims against what ftbench measured",
            "",
            f"- Command: `{command}`",
            f"- Store: `{store.path}` ({len(records)} cells)",
            f"- Hardware and versions: {_hardware_line(records)}",
            "- Measured rows come from stored cells (their task / model / device is named, and "
            "the budget where several share them); computed rows come from exact parameter "
            "counts on the meta device and say so. Speed claims were mostly made for GPUs: a "
            "CPU measurement tests them only there.",
            "- Each row judges one configuration (method, settings and learning rate) against "
            "one configuration of full fine-tuning with the same budget: configurations are "
            "never pooled, and search trials (scored on validation) never count. A configuration "
            "with collapsed seeds (one class predicted for every test example) does not reach "
            "full fine-tuning: a collapse is a failure, not noise.",
            "- The accuracy rows are one-sided non-inferiority tests, one per row, not corrected "
            "for multiplicity: each answers its own question, and the page draws no conclusion "
            "from their number. The `guide` column cites where each claim was made "
            "(../shared/seeds/README.md has each guide's English gist).",
            "",
            table.to_markdown(index=False, disable_numparse=True),
            "",
            "## The method matrix, measured",
            "",
            "What guides print from hearsay (method | trainable % | relative speed | memory | "
            "typical use), here from stored cells; only the last column is quoted, not measured. "
            "One row per configuration and budget, against the full fine-tuning configuration "
            "of that budget with the most seeds (named); the metric is the mean of the seeds "
            "that did not collapse, and the collapses are counted. The speed ratio comes from a "
            "timing pass that re-timed both side by side where the store holds one (median "
            "[lowest-highest round]), else from the cells' own runs, marked `(separate runs)`; "
            "the memory ratio divides the cells' training memory.",
            "",
            matrix.to_markdown(index=False, disable_numparse=True)
            if len(matrix)
            else "No task x model has stored cells of full fine-tuning next to other methods yet.",
            "",
        ]
    )
