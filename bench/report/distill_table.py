"""The distillation table of a suite page: each student taught by its teacher against the same
configuration trained without one, tested at the method level."""

from __future__ import annotations

import pandas as pd

from bench.plan.distillation import untaught
from bench.report.verdict import Verdict
from bench.stats.collapse import collapse_note, with_failure_modes
from bench.stats.compare import method_level_difference
from bench.stats.configurations import configuration_key
from bench.store.cell_store import Store

NOTE = (
    "Distillation: each student configuration trained with its teacher (the same seed's "
    "teacher cell; loss (1 - alpha) x cross-entropy on the labels + alpha x T^2 x KL from the "
    "teacher's softened outputs, bench/regimes/distill.py) against the same configuration "
    "trained without one. Δ is taught minus untaught in the primary metric, method-level "
    "(seed-to-seed and test-set variance; 95% interval, two-sided p, paired by seed; one test "
    "per row, not corrected: each row asks its own question); a configuration with a collapsed "
    "seed (one class predicted for every test example) is a failure, not tested, and its mean "
    "leaves that seed out. The teacher's metric is the "
    "mean over the seeds' teachers, as the students' records report them. The first student "
    "of a teacher trains it in its own process before its meters start (its wall time and "
    "training memory leave it out; its peak RSS may keep some of it); the others read the "
    "teacher's cached logits."
)


def _mean(cells: pd.DataFrame) -> str:
    """The mean metric of the seeds that did not collapse (collapsed ones are failures)."""
    healthy = cells[~cells["collapsed"]]
    return f"{healthy['metric'].mean():.4f}" if len(healthy) else "collapsed"


def distillation_rows(ok: pd.DataFrame, store: Store) -> pd.DataFrame | None:
    """One row per taught configuration whose untaught twin the frame holds; None if none."""
    if ok.empty or "spec" not in ok:
        return None
    ok = ok.assign(config=ok["spec"].map(configuration_key))
    if "collapsed" not in ok:
        ok = with_failure_modes(ok)
    taught = ok[ok["spec"].map(lambda s: s.teacher is not None)]
    rows = []
    for config, group in taught.groupby("config", sort=False):
        twin = configuration_key(untaught(group["spec"].iloc[0]))
        plain = ok[ok["config"] == twin]
        if plain.empty:
            continue
        collapsed = "; ".join(
            f"{name}: {note}"
            for name, note in (("taught", collapse_note(group)), ("untaught", collapse_note(plain)))
            if note
        )
        result = (
            None if collapsed else method_level_difference(store, ok, config, twin, by="config")
        )
        records = [r for r in group.get("distillation", []) if isinstance(r, dict)]
        teacher = sum(r["teacher_value"] for r in records) / len(records) if records else None
        spec = group["spec"].iloc[0]
        rows.append(
            {
                "student": plain["method"].iloc[0],
                "teacher": spec.teacher_tag().removeprefix("distilled from "),
                "teacher metric": "—" if teacher is None else f"{teacher:.4f}",
                "without teacher": _mean(plain),
                "with teacher": _mean(group),
                "Δ (95% interval)": (
                    f"not tested: {collapsed}"
                    if collapsed
                    else "—"
                    if result is None
                    else f"{result.estimate:+.4f} [{result.low:+.4f}, {result.high:+.4f}]"
                ),
                "p": "—" if result is None else f"{result.pvalue:.3g}",
                "seeds": f"{len(group)} / {len(plain)}",
                "collapsed": bool(collapsed),
                "where": group["where"].iloc[0] if "where" in group else "",
            }
        )
    return pd.DataFrame(rows) if rows else None


def distillation_section(ok: pd.DataFrame, store: Store) -> list[str]:
    """The markdown lines of the table and its note (none without taught cells)."""
    table = distillation_rows(ok, store)
    if table is None:
        return []
    return [
        "Distillation:",
        "",
        table.drop(columns=["collapsed", "where"]).to_markdown(index=False, disable_numparse=True),
        "",
        NOTE,
        "",
    ]


def _on(row: pd.Series) -> str:
    return f", on {row['where']}" if row["where"] else ""


KEPT = 0.97  # DistilBERT's figure (97% of BERT's GLUE score); the guide gives none


def distillation_claims(frame: pd.DataFrame, store: Store) -> list[Verdict]:
    """全参数微调's "a fully fine-tuned model teaches a small one, keeping the core ability":
    each taught student's metric as a share of its teachers', beside its untaught twin."""
    claim = "Distillation keeps the core ability"
    table = distillation_rows(frame, store)
    if table is None:
        return [
            Verdict(
                claim,
                "-",
                "not measured yet: no taught student beside its untaught twin",
                "run `python run_all.py run --suite distill-small`",
            )
        ]
    out = []
    for _, row in table.iterrows():
        label = f"{claim} ({row['student']} taught by {row['teacher']})"
        if row["collapsed"]:
            out.append(
                Verdict(
                    label,
                    row["Δ (95% interval)"].removeprefix("not tested: ") + _on(row),
                    "does not hold: collapsed seeds are failures, not noise",
                    "a seed that predicts one class for every test example",
                )
            )
            continue
        if row["teacher metric"] == "—":
            continue
        share = float(row["with teacher"]) / float(row["teacher metric"])
        out.append(
            Verdict(
                label,
                f"{share:.1%} of the teachers' metric ({row['with teacher']} against "
                f"{row['teacher metric']}); untaught {row['without teacher']}, Δ taught - "
                f"untaught {row['Δ (95% interval)']}, p {row['p']}; seeds {row['seeds']}{_on(row)}",
                f"holds ({KEPT:.0%} or more)" if share >= KEPT else f"does not hold (< {KEPT:.0%})",
                f"'keeps' read as at least {KEPT:.0%} of the teacher's metric (DistilBERT's "
                "figure; the guide gives none); Δ method-level, not corrected",
            )
        )
    return out
