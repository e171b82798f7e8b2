"""A method's or task's code is part of its cells' identity: every stored cell keeps its id,
a version other than 1 changes it, and editing what a method or task computes without a
version bump fails here."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest

from bench.core.plugins import load_plugin_file
from bench.core.registry import METHODS, TASKS, code_fingerprint
from bench.core.spec import CellSpec
from bench.core.versions import check_versions
from bench.plan.suites import SUITES, expand

ROOT = Path(__file__).resolve().parent.parent

# Each built-in module's code fingerprint (docstrings, comments and layout left out) with the
# versions of what it registers. When this test fails after an edit: if the edit changes what
# a method or task computes, bump its `version=` in register_method / register_task (its cells
# get new ids, the stored ones stay as they were); then pin the new fingerprint and versions.
PINNED = {
    "methods/adapters.py": ("1e125ca88facb261", {"houlsby": 1, "pfeiffer": 1, "bottleneck": 1}),
    "methods/bitfit.py": ("b8bb7562b5663cfb", {"bitfit": 1}),
    "methods/fourierft.py": ("141b509fe57ba326", {"fourierft": 1}),
    "methods/freeze.py": ("91b0d82528166294", {"freeze": 1}),
    "methods/full.py": ("e7fdf4502b4077a0", {"full": 1}),
    "methods/ia3.py": ("95681c53da2dfd9b", {"ia3": 1}),
    "methods/ln_tuning.py": ("7be664600c9dafc0", {"ln_tuning": 1}),
    "methods/lora.py": (
        "e7b1176db1a9306f",
        {"lora": 1, "dora": 1, "rslora": 1, "pissa": 1, "olora": 1, "adalora": 1},
    ),
    "methods/lycoris.py": ("4c1dc0ca677393e6", {"loha": 1, "lokr": 1}),
    "methods/orthogonal.py": ("14bc4c48792987bb", {"oft": 1, "boft": 1, "hra": 1}),
    "methods/prompt.py": (
        "b82f1531047054b0",
        {"prompt_tuning": 1, "prefix_tuning": 1, "p_tuning": 1},
    ),
    "methods/qlora.py": ("26b4942e657cb982", {"qlora": 1, "lora_8bit": 1}),
    "methods/random_projection.py": ("4f86108129b958d5", {"vera": 1, "randlora": 1, "vblora": 1}),
    "methods/sparse.py": ("5d213210fddd1251", {"sparse": 1}),
    "tasks/bbc_news.py": ("63e0a510f165148c", {"bbc_news": 1}),
    "tasks/chatterbot_sft.py": ("32389f5ffdd56df7", {"chatterbot_sft": 1}),
    "tasks/drug_reviews.py": ("567cf3a0b86201f8", {"drug_reviews": 1}),
    "tasks/health_tweets.py": ("e1b0babd4b9ba88c", {"health_tweets": 1}),
    "tasks/hub.py": (
        "1e479968bac1261e",
        {
            "glue_sst2": 1,
            "glue_mrpc": 1,
            "glue_rte": 1,
            "glue_stsb": 1,
            "glue_cola": 1,
            "glue_qnli": 1,
            "imdb": 1,
            "ag_news": 1,
            "medical_questions_pairs": 1,
            "alpaca": 1,
            "gsm8k": 1,
        },
    ),
    "tasks/chatterbot_prefs.py": ("9caee14891f7b3da", {"chatterbot_prefs": 1}),
    "tasks/orange_text.py": ("1eed6ceb59cee363", {"newsgroups20": 1, "reuters_r8": 1}),
    "tasks/rotten_tomatoes.py": ("7005dff01e680f0f", {"rotten_tomatoes": 1}),
    "tasks/sms_spam.py": ("b8e978b044eff6f7", {"sms_spam": 1}),
    "tasks/synthetic.py": (
        "c17d79d0254d60ba",
        {
            "synthetic_rule": 1,
            "synthetic_reverse": 1,
            "fixed_tokens": 1,
            "synthetic_prefs": 1,
            "synthetic_tokens": 1,
        },
    ),
    "tasks/tweet_sentiment.py": ("e01a59dc2625f36c", {"tweet_sentiment": 1}),
    "tasks/wnut16.py": ("e59bbaab92053c51", {"wnut16_ner": 1}),
}


def _registered_by_module() -> dict[str, dict[str, int | str]]:
    out: dict[str, dict[str, int | str]] = {}
    for name, info in METHODS.items():
        if info.builtin:
            out.setdefault(info.module, {})[name] = info.version
    for name, task in TASKS.items():
        if task.load.__module__.startswith("tasks."):
            out.setdefault(task.load.__module__, {})[name] = task.version
    return {m.replace(".", "/") + ".py": v for m, v in out.items()}


def test_every_method_and_task_module_is_pinned_with_its_versions():
    registered = _registered_by_module()
    assert sorted(registered) == sorted(PINNED), "a module was added or removed: pin it"
    stale = []
    for path, (pinned_print, pinned_versions) in PINNED.items():
        now = code_fingerprint((ROOT / path).read_text())
        if now != pinned_print:
            same = registered[path] == pinned_versions
            stale.append(
                f"{path}: code changed (fingerprint {now})"
                + (" and no version was bumped" if same else f"; versions now {registered[path]}")
            )
        elif registered[path] != pinned_versions:
            stale.append(f"{path}: versions {registered[path]} changed without a code change")
    assert not stale, "\n".join(stale)


def test_the_fingerprint_ignores_docstrings_comments_and_layout_but_not_code():
    base = 'def f(x):\n    """Doc."""\n    return x + 1\n'
    assert code_fingerprint(base) == code_fingerprint("def f(x):  # note\n    return (x + 1)\n")
    assert code_fingerprint(base) != code_fingerprint("def f(x):\n    return x + 2\n")


def test_every_stored_cell_keeps_its_id():
    """Each cell of the committed store rebuilds its id from its stored spec, and every cell
    the suites expand to today that the store holds has the id it was stored under."""
    with sqlite3.connect(ROOT / "reports" / "ftbench.sqlite") as db:
        rows = db.execute("SELECT id, spec FROM cells").fetchall()
    assert rows
    stored = {cell_id for cell_id, _ in rows}
    for cell_id, spec in rows:
        assert CellSpec.from_json(spec).cell_id == cell_id
    committed = (
        *("default", "distill", "distill-small", "fair", "methods", "methods-smollm2"),
        *("preferences", "serving", "sft", "tasks"),
        *("adapters", "augment", "tokens", "tokens-classification"),
    )
    expanded = {c.cell_id for name in committed for c in expand(SUITES.get(name))}
    assert len(expanded) == 244 and expanded <= stored  # every committed page's cell, by id


def test_a_version_other_than_1_changes_the_id_and_a_stale_cell_is_refused():
    cell = expand(SUITES.get("default"))[0]
    bumped = dataclasses.replace(cell, method_version=2)
    assert bumped.cell_id != cell.cell_id and "method_version" not in cell.to_json()
    assert CellSpec.from_json(bumped.to_json()) == bumped
    check_versions(cell)
    with pytest.raises(ValueError, match="version 2"):
        check_versions(bumped)


def test_a_plugin_is_versioned_by_its_code(tmp_path):
    body = (
        "from bench.core.registry import register_method\n\n\n"
        '@register_method("{name}", family="test", lr=1e-3)\n'
        "def m(model, settings, ctx):\n    return model{tail}\n"
    )
    versions = []
    for name, tail in (
        ("plugin_v_a", ""),
        ("plugin_v_b", "  # a comment only"),
        ("plugin_v_c", ".train()"),
    ):
        path = tmp_path / f"{name}.py"  # one method name, three files
        path.write_text(body.format(name="plugin_v", tail=tail))
        load_plugin_file(path)
        versions.append(METHODS.get("plugin_v").version)
        METHODS.remove("plugin_v")
    assert versions[0] == versions[1] != versions[2]
    assert str(versions[0]).startswith("code-")
