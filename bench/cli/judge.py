"""`judge`: each stored DPO policy's greedy replies to its task's held-out prompts against the
replies of its reference (the model it started from), judged by stored reward models; one
judgement per policy, stored beside the cells as soon as it is made. Trains nothing: policies
and judges are rebuilt from the states their cells kept (`run --keep-states`)."""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import torch
from rich.markup import escape

from bench.cli.common import csv_list, resolve_device
from bench.core.messages import LoggedConsole
from bench.core.status import Status
from bench.plan.selection import Selection
from bench.plan.suites import SUITES
from bench.plan.validate import check_at_least, check_device

AGAINST = "reference"  # the one baseline so far: the model the policy started from


def _kept(record: dict[str, Any]) -> bool:
    return bool((record.get("result") or {}).get("kept_state"))


def _objective(record: dict[str, Any]) -> str | None:
    spec = record["spec"]
    return spec.preference_objective if record["task_kind"] == "preference" else None


def judgement_id(policy: str, judges: list[str], prompts: int, max_new_tokens: int) -> str:
    """What a judgement depends on: the policy, its judges, how many prompts, reply length."""
    key = {
        "policy": policy,
        "against": AGAINST,
        "judges": sorted(judges),
        "prompts": prompts,
        "max_new_tokens": max_new_tokens,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def _stored(store_path: str, suite: str, device: str) -> list[dict[str, Any]]:
    """The suite's stored ok cells of a preference task, each with its task kind."""
    from bench.core.registry import TASKS
    from bench.store.cell_store import Store

    if not Path(store_path).exists():
        raise ValueError(f"judge: there is no store at {store_path}: run the suite first")
    cells = Selection().expand(SUITES.get(suite), device)
    with Store(store_path, read_only=True) as store:
        records = store.cells([c.cell_id for c in cells])
    out = []
    for record in records:
        if record["status"] != Status.OK:
            continue
        record["task_kind"] = TASKS.get(record["spec"].task).kind
        if record["task_kind"] == "preference":
            out.append(record)
    return out


def _chosen(
    records: list[dict[str, Any]], objective: str, wanted: list[str] | None, option: str
) -> list[dict[str, Any]]:
    """The suite's cells of one objective, or those of them `wanted` names (refused, naming
    the valid ids, when one is not such a cell)."""
    mine = [r for r in records if _objective(r) == objective]
    if wanted is None:
        return mine
    ids = {r["id"] for r in mine}
    unknown = [w for w in wanted if w not in ids]
    if unknown:
        raise ValueError(
            f"{option} {','.join(unknown)}: not a stored ok {objective} cell of this suite "
            f"(those are: {', '.join(sorted(ids)) or 'none'})"
        )
    return [r for r in mine if r["id"] in set(wanted)]


def cmd_judge(args: argparse.Namespace, console: LoggedConsole, command: str) -> int:
    from bench.cell.kept_state import states_folder

    check_at_least("--prompts", args.prompts, 1)
    check_at_least("--max-new-tokens", args.max_new_tokens, 1)
    device = resolve_device(args.device)
    check_device(device)
    records = _stored(args.store, args.suite, device)
    every_policy = _chosen(records, "dpo", csv_list(args.policies), "--policies")
    every_judge = _chosen(records, "reward", csv_list(args.judges), "--judges")
    without = [r["id"] for r in every_policy + every_judge if not _kept(r)]
    policies = [r for r in every_policy if _kept(r)]
    judges = [r for r in every_judge if _kept(r)]
    keep_line = (
        f"python run_all.py run --suite {args.suite} --keep-states --cells {','.join(without)}"
    )
    if not policies or not judges:
        raise ValueError(
            f"judge: suite {args.suite!r} has {len(policies)} stored DPO policy cell(s) and "
            f"{len(judges)} reward model(s) with a kept state; judging needs at least one of "
            + (f"each: keep their states with `{keep_line}`" if without else "each: run the suite")
        )
    unjudged = [r["id"] for r in every_policy if not _kept(r)]
    unused = [r["id"] for r in every_judge if not _kept(r)]
    if unjudged:
        console.print(f"policies not judged (no kept state): {', '.join(unjudged)}")
    if unused:
        console.print(f"reward models not used as judges (no kept state): {', '.join(unused)}")
    if without:
        console.print(f"to keep their states: `{keep_line}`")
    folder = states_folder(args.store)
    started = time.perf_counter()
    panel = _load_judges(judges, folder, console)
    made = 0
    baselines: dict[tuple[Any, ...], list[str]] = {}
    for record in policies:
        made += _judge_one(record, panel, baselines, folder, args, console, command)
    console.print(
        f"{made} judgement(s) made, {len(policies) - made} already stored, "
        f"{time.perf_counter() - started:.0f} s; `python run_all.py report` shows them"
    )
    return 0


def _load_judges(
    judges: list[dict[str, Any]], folder: Path, console: LoggedConsole
) -> list[dict[str, Any]]:
    """Each judge rebuilt from its kept state, with its accuracy on its own held-out pairs
    (recomputed here, so that the panel's mean is scored the same way)."""
    from bench.cell.kept_state import load_state, rebuilt
    from bench.evaluate.judge import rewards

    panel = []
    for record in judges:
        spec = record["spec"]
        setup, loaded = rebuilt(spec, load_state(folder, record["result"]["kept_state"]))
        test = setup.split.test
        console.print(f"judge {record['id']} ({escape(spec.label())}) loaded")
        model, tokenizer, device = loaded.model, loaded.tokenizer, setup.device
        held_out = tuple(
            rewards(model, tokenizer, test.texts, texts, spec.max_length, device)
            for texts in (test.responses or [], test.rejected or [])
        )
        panel.append(
            {
                "id": record["id"],
                "label": spec.label(),
                "model": loaded.model,
                "tokenizer": loaded.tokenizer,
                "max_length": spec.max_length,
                "device": setup.device,
                "held_out": held_out,
            }
        )
    return panel


def _panel_accuracy(panel: list[dict[str, Any]]) -> dict[str, Any]:
    from bench.evaluate.judge import ensemble, pair_accuracy

    chosen = ensemble([j["held_out"][0] for j in panel])
    rejected = ensemble([j["held_out"][1] for j in panel])
    return {
        "panel": pair_accuracy(chosen, rejected),
        "each": {j["id"]: pair_accuracy(*j["held_out"]) for j in panel},
    }


def _judge_one(
    record: dict[str, Any],
    panel: list[dict[str, Any]],
    baselines: dict[tuple[Any, ...], list[str]],
    folder: Path,
    args: argparse.Namespace,
    console: LoggedConsole,
    command: str,
) -> int:
    """Judge one policy (1) unless its judgement is stored (0)."""
    from bench.cell.kept_state import load_state, rebuilt
    from bench.cell.setup import resolve
    from bench.evaluate.generation import generate
    from bench.evaluate.judge import ensemble, rewards, win_rate
    from bench.store.cell_store import Store

    spec = record["spec"]
    started = time.perf_counter()
    split_only = resolve(spec)  # the prompts, before any model is built
    prompts = split_only.split.test.texts[: args.prompts]
    new_tokens = args.max_new_tokens or spec.max_new_tokens or split_only.task.max_new_tokens
    ident = judgement_id(record["id"], [j["id"] for j in panel], len(prompts), new_tokens)
    with Store(args.store) as store:
        if any(j["id"] == ident for j in store.judgements()):
            console.print(f"{record['id']} ({escape(spec.label())}): judged before, kept")
            return 0
    setup, loaded = rebuilt(spec, load_state(folder, record["result"]["kept_state"]))
    console.print(f"{record['id']} ({escape(spec.label())}): {len(prompts)} replies")
    policy_texts = generate(loaded.model, loaded.tokenizer, prompts, setup.device, new_tokens)
    del loaded
    key = (spec.model, spec.task, spec.seed, tuple(prompts), new_tokens)
    if key not in baselines:
        baselines[key] = _reference_replies(setup, prompts, new_tokens)
    base_texts = baselines[key]

    def panel_rewards(texts: list[str]) -> list[float]:
        return ensemble(
            [
                rewards(j["model"], j["tokenizer"], prompts, texts, j["max_length"], j["device"])
                for j in panel
            ]
        )

    policy_rewards, base_rewards = panel_rewards(policy_texts), panel_rewards(base_texts)
    result = {
        **win_rate(policy_rewards, base_rewards, policy_texts, base_texts),
        "policy": record["id"],
        "against": AGAINST,
        "judges": [j["id"] for j in panel],
        "judge_accuracy": _panel_accuracy(panel),
        "prompts": len(prompts),
        "max_new_tokens": new_tokens,
        "split_hash": setup.split.hash,
        "rows": [
            {"prompt": p, "policy": a, "reference": b, "policy_reward": x, "reference_reward": y}
            for p, a, b, x, y in zip(
                prompts, policy_texts, base_texts, policy_rewards, base_rewards, strict=True
            )
        ],
        "seconds": time.perf_counter() - started,
        "command": command,
    }
    with Store(args.store) as store:
        store.save_judgement(ident, record["id"], result)
    console.print(
        f"  win rate {result['win_rate']:.3f} ({result['wins']} wins, {result['losses']} "
        f"losses, {result['ties']} ties; sign test p {result['sign_p']:.3g})"
    )
    return 1


def _reference_replies(setup: Any, prompts: list[str], new_tokens: int) -> list[str]:
    """Greedy replies of the policy's reference: its model as loaded before any training (a
    `config:` model's weights drawn from the cell's seed, as the cell's copy is)."""
    from bench.evaluate.generation import generate

    with torch.random.fork_rng():
        torch.manual_seed(setup.spec.seed)
        base, tokenizer = setup.model_info.load(
            setup.load_kind, setup.num_labels, setup.load_target()
        )
    base.to(setup.device)
    return generate(base, tokenizer, prompts, setup.device, new_tokens)
