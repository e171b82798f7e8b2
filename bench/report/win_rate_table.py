"""The win-rate table of a preference page: each DPO configuration's greedy replies to held-out
prompts against its reference's, judged by stored reward models (`python run_all.py judge`),
per seed with the sign test, Holm over the page's judgements."""

from __future__ import annotations

from typing import Any

import pandas as pd

from bench.stats import paired as stats
from bench.stats.configurations import configuration_key
from bench.store.cell_store import Store

NOTE = (
    "Win rate: on each of the task's first held-out prompts, the policy's greedy reply and its "
    "reference's (the model it started from, untrained) are scored by the judges, stored reward "
    "models rebuilt from their kept states; the panel's mean reward decides, identical replies "
    "tie, and the win rate counts a tie as half. Judge accuracy: how often the same panel scores "
    "the chosen reply of a held-out pair above the rejected one (what the judges can tell "
    "apart: here a reply on the prompt's topic from another topic's, not a better reply from a "
    "worse one on the same topic). p: the two-sided exact sign test of wins against losses "
    "(ties left out) on these prompts, for that one trained policy; it tests whether the judges "
    "prefer one side's replies more often than the other's, not whether another seed would: "
    "the spread across seeds shows that. Holm runs over every judgement on this page."
)


def _key(judgement: dict[str, Any], spec: Any) -> tuple[Any, ...]:
    """What judgements may be pooled over: the policy's configuration and how it was judged."""
    result = judgement["result"]
    return (
        configuration_key(spec),
        result["against"],
        tuple(sorted(result["judges"])),
        result["prompts"],
        result["max_new_tokens"],
    )


def judged_rows(ok: pd.DataFrame, store: Store) -> list[dict[str, Any]]:
    """One row per judged configuration (latest judgement of each policy), Holm-adjusted."""
    specs = dict(zip(ok["cell_id"], ok["spec"], strict=True))
    latest = {j["policy"]: j for j in store.judgements() if j["policy"] in specs}
    if not latest:
        return []
    order = list(latest.values())
    holm = stats.holm([j["result"]["sign_p"] for j in order]).pvalues
    adjusted = {j["id"]: p for j, p in zip(order, holm, strict=True)}
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for judgement in order:
        groups.setdefault(_key(judgement, specs[judgement["policy"]]), []).append(judgement)
    rows = []
    for judgements in groups.values():
        judgements.sort(key=lambda j: specs[j["policy"]].seed)
        spec = specs[judgements[0]["policy"]]
        rates = pd.Series([j["result"]["win_rate"] for j in judgements])
        first = judgements[0]["result"]
        rows.append(
            {
                "method": ok.loc[ok["cell_id"] == judgements[0]["policy"], "method"].iloc[0],
                "reference": spec.dpo_reference,
                "win rate mean ± sd": (
                    f"{rates.mean():.3f} ± {rates.std(ddof=1):.3f}"
                    if len(rates) > 1
                    else f"{rates.iloc[0]:.3f}"
                ),
                "per seed (Holm p)": "; ".join(
                    f"{j['result']['win_rate']:.3f} ({adjusted[j['id']]:.2g})" for j in judgements
                ),
                "wins / losses / ties": " / ".join(
                    str(sum(j["result"][k] for j in judgements)) for k in ("wins", "losses", "ties")
                ),
                "prompts": first["prompts"],
                "reply tokens": first["max_new_tokens"],
                "judge accuracy": f"{first['judge_accuracy']['panel']:.3f}",
                "_judges": first["judges"],
                "_command": first["command"],
                "_example": _example(judgements[0]["result"]),
            }
        )
    return rows


def _example(result: dict[str, Any]) -> dict[str, Any] | None:
    """The first prompt whose two replies differ (what the judges compared)."""
    return next((r for r in result["rows"] if r["policy"].strip() != r["reference"].strip()), None)


def _quoted(text: str, limit: int = 160) -> str:
    text = " ".join(text.split()).replace("|", "/")
    return (text[:limit] + "...") if len(text) > limit else text


def win_rate_section(ok: pd.DataFrame, store: Store) -> list[str]:
    """The markdown lines of the table, its judges, an example and its note (none unjudged)."""
    rows = judged_rows(ok, store)
    if not rows:
        return []
    table = pd.DataFrame(rows)
    lines = [
        "Win rate of DPO replies against the reference's, judged by stored reward models:",
        "",
        table.drop(columns=[c for c in table if c.startswith("_")]).to_markdown(
            index=False, disable_numparse=True
        ),
        "",
    ]
    judges = sorted({j for row in rows for j in row["_judges"]})
    labels = dict(zip(ok["cell_id"], ok["method"], strict=True))
    lines.append(
        "- Judges: "
        + ", ".join(f"`{j}` ({labels.get(j, 'not in this suite')})" for j in judges)
        + f"; made by `{rows[0]['_command']}`."
    )
    example = next((r["_example"] for r in rows if r["_example"]), None)
    if example:
        lines.append(
            f'- For example, to "{_quoted(example["prompt"])}" the `{rows[0]["method"]}` '
            f'policy replied "{_quoted(example["policy"])}" '
            f"(reward {example['policy_reward']:+.3f}) and the reference "
            f'"{_quoted(example["reference"])}" (reward {example["reference_reward"]:+.3f}).'
        )
    return [*lines, "", NOTE, ""]
